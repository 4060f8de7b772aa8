"""A small safe expression language for constraints over named columns, vectorized with numpy.

    parse("params <= 2.5 * flops ** 0.5 and 12 <= d <= 28").evaluate(columns) -> bool array

Own tokenizer and recursive-descent parser: user text is never given to eval/compile, and only the
grammar below exists (no attributes, subscripts, strings, lambdas or calls beyond FUNCTIONS).

    expr    := or
    or      := and ('or' and)*
    and     := not ('and' not)*
    not     := 'not' not | compare
    compare := sum (('<' | '<=' | '>' | '>=' | '==' | '!=') sum)*      (chained as in Python)
    sum     := term (('+' | '-') term)*
    term    := unary (('*' | '/' | '%') unary)*
    unary   := ('-' | '+') unary | power
    power   := atom ('**' unary)?                                    (right-associative)
    atom    := NUMBER | NAME | FUNCTION '(' expr (',' expr)* ')' | '(' expr ')'

NUMBER may carry a K, M or G suffix (x 1e3, 1e6, 1e9), optionally followed by F: 400M, 400MF, 1.6G.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..errors import UsageError

MAX_LENGTH = 2000  # characters; constraints are one-liners
MAX_DEPTH = 60  # nesting; bounds the recursion of the parser

FUNCTIONS = {
    "min": (np.minimum, 2, None), "max": (np.maximum, 2, None),  # (numpy ufunc, min args, max args)
    "log": (np.log, 1, 1), "log2": (np.log2, 1, 1), "log10": (np.log10, 1, 1), "exp": (np.exp, 1, 1),
    "sqrt": (np.sqrt, 1, 1), "abs": (np.abs, 1, 1),
    "floor": (np.floor, 1, 1), "ceil": (np.ceil, 1, 1), "round": (np.round, 1, 1),
}
SUFFIXES = {"K": 1e3, "M": 1e6, "G": 1e9}
COMPARE = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
           "==": np.equal, "!=": np.not_equal}
ARITH = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.true_divide, "%": np.mod, "**": np.power}
KEYWORDS = ("and", "or", "not")

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?:[KMG]F?)?)
  | (?P<name>[A-Za-z_][A-Za-z_0-9]*)
  | (?P<op>\*\*|<=|>=|==|!=|[-+*/%<>(),])
""", re.VERBOSE)


# --- nodes: small frozen objects; str() is the canonical text ------------------------------------
@dataclass(frozen=True)
class _Node:
    prec = 100  # binding strength, for minimal parentheses in str()


@dataclass(frozen=True)
class Num(_Node):
    value: float

    def __str__(self):
        v = self.value
        for suffix, scale in (("G", 1e9), ("M", 1e6)):  # 6M, 1.5G: as people write flops and params
            mant = repr(v / scale).removesuffix(".0")
            if abs(v) >= scale and len(mant.lstrip("-").replace(".", "")) <= 4 and float(mant) * scale == v:
                return mant + suffix
        return str(int(v)) if np.isfinite(v) and v == int(v) and abs(v) < 1e15 else repr(v)


@dataclass(frozen=True)
class Name(_Node):
    id: str

    def __str__(self):
        return self.id


@dataclass(frozen=True)
class Call(_Node):
    func: str
    args: tuple

    def __str__(self):
        return f"{self.func}({', '.join(map(str, self.args))})"


@dataclass(frozen=True)
class Unary(_Node):
    op: str  # "-" | "+" | "not"
    operand: _Node

    @property
    def prec(self):
        return 3 if self.op == "not" else 8

    def __str__(self):
        inner = _wrap(self.operand, self.prec)
        return f"not {inner}" if self.op == "not" else f"{self.op}{inner}"


_BIN_PREC = {"+": 6, "-": 6, "*": 7, "/": 7, "%": 7, "**": 9}


@dataclass(frozen=True)
class Binary(_Node):
    op: str
    left: _Node
    right: _Node

    @property
    def prec(self):
        return _BIN_PREC[self.op]

    def __str__(self):
        p = self.prec
        if self.op == "**":  # right-associative; a unary minus base needs parentheses
            return f"{_wrap(self.left, p + 1)} ** {_wrap(self.right, 8)}"
        return f"{_wrap(self.left, p)} {self.op} {_wrap(self.right, p + 1)}"


@dataclass(frozen=True)
class Compare(_Node):
    first: _Node
    ops: tuple
    rest: tuple
    prec = 4

    def __str__(self):
        out = _wrap(self.first, 5)
        for op, operand in zip(self.ops, self.rest):
            out += f" {op} {_wrap(operand, 5)}"
        return out


@dataclass(frozen=True)
class BoolOp(_Node):
    op: str  # "and" | "or"
    values: tuple

    @property
    def prec(self):
        return 2 if self.op == "and" else 1

    def __str__(self):
        return f" {self.op} ".join(_wrap(v, self.prec + 1) for v in self.values)


def _wrap(node: _Node, prec: int) -> str:
    return f"({node})" if node.prec < prec else str(node)


# --- parser ---------------------------------------------------------------------------------------
class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = list(self._tokenize(text))
        self.i = 0
        self.depth = 0

    def fail(self, what: str, pos: "int | None" = None):
        pos = self.tokens[self.i][2] if pos is None and self.i < len(self.tokens) else (
            len(self.text) if pos is None else pos)
        raise UsageError(f"bad expression {self.text!r}: {what} at character {pos + 1}")

    def _tokenize(self, text):
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m:  # an error token: the parser reports it when it gets there
                ch = text[pos]
                why = {".": "attribute access is not allowed", "=": "use == to compare",
                       "[": "subscripts are not allowed", "'": "strings are not allowed",
                       '"': "strings are not allowed"}.get(ch, f"unexpected character {ch!r}")
                yield "error", why, pos
                return
            kind = m.lastgroup
            if kind == "number" and m.end() < len(text) and (text[m.end()].isalnum() or text[m.end()] in "_."):
                yield "error", f"malformed number {text[pos:m.end() + 1]!r}", pos
                return
            if kind != "space":
                yield kind, m.group(), pos
            pos = m.end()

    def peek(self):
        tok = self.tokens[self.i] if self.i < len(self.tokens) else ("end", "", len(self.text))
        if tok[0] == "error":
            self.fail(tok[1], tok[2])
        return tok

    def accept(self, *values):
        kind, val, _ = self.peek()
        if kind in ("op", "name") and val in values:
            self.i += 1
            return val
        return None

    def expect(self, value):
        if not self.accept(value):
            kind, val, _ = self.peek()
            self.fail(f"expected {value!r}, found " + ("the end" if kind == "end" else repr(val)))

    def parse(self) -> _Node:
        dot = re.search(r"\.\s*[A-Za-z_]", self.text)  # x.attr: say so, whatever precedes it
        if dot and not re.match(r"\d", self.text[dot.start() - 1: dot.start()] or " "):
            self.fail("attribute access is not allowed", dot.start())
        if not self.tokens:
            self.fail("empty expression", 0)
        node = self.or_()
        kind, val, _ = self.peek()
        if kind != "end":
            hint = " (use == to compare)" if val == "=" else ""
            self.fail(f"unexpected {val!r}{hint}")
        return node

    def _nest(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail("nested too deeply")

    def or_(self):
        values = [self.and_()]
        while self.accept("or"):
            values.append(self.and_())
        return values[0] if len(values) == 1 else BoolOp("or", tuple(values))

    def and_(self):
        values = [self.not_()]
        while self.accept("and"):
            values.append(self.not_())
        return values[0] if len(values) == 1 else BoolOp("and", tuple(values))

    def not_(self):
        if self.accept("not"):
            self._nest()
            node = Unary("not", self.not_())
            self.depth -= 1
            return node
        return self.compare()

    def compare(self):
        first = self.sum_()
        ops, rest = [], []
        while (op := self.accept(*COMPARE)) is not None:
            ops.append(op)
            rest.append(self.sum_())
        return Compare(first, tuple(ops), tuple(rest)) if ops else first

    def sum_(self):
        node = self.term()
        while (op := self.accept("+", "-")) is not None:
            node = Binary(op, node, self.term())
        return node

    def term(self):
        node = self.unary()
        while (op := self.accept("*", "/", "%")) is not None:
            node = Binary(op, node, self.unary())
        return node

    def unary(self):
        if (op := self.accept("-", "+")) is not None:
            self._nest()
            node = Unary(op, self.unary())
            self.depth -= 1
            return node
        return self.power()

    def power(self):
        base = self.atom()
        if self.accept("**"):
            self._nest()
            node = Binary("**", base, self.unary())
            self.depth -= 1
            return node
        return base

    def atom(self):
        kind, val, pos = self.peek()
        if kind == "number":
            self.i += 1
            scale = 1.0
            core = val[:-1] if val.endswith("F") else val
            if core[-1:] in SUFFIXES:
                scale, core = SUFFIXES[core[-1]], core[:-1]
            value = float(core) * scale
            if not np.isfinite(value):
                self.fail(f"number {val!r} is too large", pos)
            return Num(value)
        if kind == "name" and val not in KEYWORDS:
            self.i += 1
            if self.accept("("):
                if val not in FUNCTIONS:
                    self.fail(f"unknown function {val!r} (known: {', '.join(FUNCTIONS)})", pos)
                self._nest()
                args = [self.or_()]
                while self.accept(","):
                    args.append(self.or_())
                self.expect(")")
                self.depth -= 1
                _, lo, hi = FUNCTIONS[val]
                if len(args) < lo or (hi is not None and len(args) > hi):
                    want = f"{lo}" if lo == hi else f"at least {lo}"
                    self.fail(f"{val}() takes {want} argument{'s' * (want != '1')}, got {len(args)}", pos)
                return Call(val, tuple(args))
            return Name(val)
        if self.accept("("):
            self._nest()
            node = self.or_()
            self.expect(")")
            self.depth -= 1
            return node
        if kind == "end":
            self.fail("unexpected end")
        self.fail(f"unexpected {val!r}")


def _names(node: _Node) -> set:
    if isinstance(node, Name):
        return {node.id}
    if isinstance(node, Num):
        return set()
    children = {Call: lambda n: n.args, Unary: lambda n: (n.operand,), Binary: lambda n: (n.left, n.right),
                Compare: lambda n: (n.first,) + n.rest, BoolOp: lambda n: n.values}[type(node)](node)
    return set().union(*(_names(c) for c in children))


def _eval(node: _Node, cols: Mapping[str, np.ndarray]):
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Name):
        return cols[node.id]
    if isinstance(node, Call):
        func, _, _ = FUNCTIONS[node.func]
        args = [_num(_eval(a, cols)) for a in node.args]
        if func in (np.minimum, np.maximum):
            out = args[0]
            for a in args[1:]:
                out = func(out, a)
            return out
        return func(args[0])
    if isinstance(node, Unary):
        v = _eval(node.operand, cols)
        return np.logical_not(v) if node.op == "not" else (np.negative(_num(v)) if node.op == "-" else _num(v))
    if isinstance(node, Binary):
        return ARITH[node.op](_num(_eval(node.left, cols)), _num(_eval(node.right, cols)))
    if isinstance(node, Compare):
        left = _num(_eval(node.first, cols))
        out = True
        for op, operand in zip(node.ops, node.rest):
            right = _num(_eval(operand, cols))
            out = np.logical_and(out, COMPARE[op](left, right))
            left = right
        return out
    reduce = np.logical_and if node.op == "and" else np.logical_or
    out = _eval(node.values[0], cols)
    for v in node.values[1:]:
        out = reduce(out, _eval(v, cols))
    return out


def _num(v):
    """Booleans take part in arithmetic as 0 / 1 (as in Python); everything is float64."""
    return np.asarray(v, np.float64)


class Expr:
    """A parsed expression: `names` (the columns it reads), `evaluate(columns)`, canonical `str()`."""

    __slots__ = ("_node", "_text", "names")

    def __init__(self, node: _Node):
        self._node = node
        self._text = str(node)
        self.names = frozenset(_names(node))

    @property
    def is_boolean(self) -> bool:
        """Whether the top level is a comparison or a logical operation (a constraint)."""
        n = self._node
        return isinstance(n, (Compare, BoolOp)) or (isinstance(n, Unary) and n.op == "not")

    def evaluate(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """The expression on every row of `columns` (arrays of one length). Unknown column ->
        UsageError. NaN compares False (so `b == 1` is False where stages differ in b)."""
        missing = sorted(self.names - set(columns))
        if missing:
            known = ", ".join(sorted(columns)) or "none"
            raise UsageError(f"unknown column {missing[0]!r} in {self._text!r}; known: {known}")
        n = len(next(iter(columns.values()))) if columns else 1
        with np.errstate(all="ignore"):
            out = np.asarray(_eval(self._node, columns))
        return np.broadcast_to(out, (n,)) if out.ndim == 0 else out

    def check_names(self, allowed) -> "Expr":
        """Raise UsageError naming the first column not in `allowed`; returns self."""
        bad = sorted(self.names - set(allowed))
        if bad:
            raise UsageError(f"unknown column {bad[0]!r} in {self._text!r}; known: {', '.join(sorted(allowed))}")
        return self

    def __str__(self):
        return self._text

    def __repr__(self):
        return f"Expr({self._text!r})"

    def __eq__(self, other):
        return isinstance(other, Expr) and other._text == self._text

    def __hash__(self):
        return hash(self._text)


def parse(text: str, allowed=None) -> Expr:
    """Parse `text` (str only); with `allowed`, every column it reads must be in it. Any problem ->
    UsageError with one line naming it."""
    if not isinstance(text, str):
        raise UsageError(f"expression must be a string, got {type(text).__name__} {text!r}")
    if len(text) > MAX_LENGTH:
        raise UsageError(f"expression longer than {MAX_LENGTH} characters")
    if "\n" in text or "\r" in text:
        text = " ".join(text.split())
    expr = Expr(_Parser(text).parse())
    return expr.check_names(allowed) if allowed is not None else expr
