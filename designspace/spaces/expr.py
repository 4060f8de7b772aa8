"""A small safe expression language for constraints over named columns, vectorized with numpy.

    parse("params <= 2.5 * flops ** 0.5 and 12 <= d <= 28").evaluate(columns) -> bool array

Python's own parser (`ast.parse(mode="eval")`) reads the text; only a whitelist of its nodes becomes
an expression: numbers, column names, + - * / % **, unary - + not, chained comparisons, and / or, and
calls of FUNCTIONS by name. Attributes, subscripts, strings, lambdas and every other node are refused,
the text is bounded in length and nesting, and it is never given to eval/compile.

NUMBER may carry a K, M or G suffix (x 1e3, 1e6, 1e9), optionally followed by F: 400M, 400MF, 1.6G.
"""
from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..errors import UsageError

MAX_LENGTH = 2000  # characters; constraints are one-liners
MAX_NESTING = 60  # nesting of parentheses and operators (limits.MAX_DEPTH is blocks per stage)

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
# the whitelist: Python's operator nodes -> the language's operators
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Mod: "%", ast.Pow: "**"}
_UNARY = {ast.USub: "-", ast.UAdd: "+", ast.Not: "not"}
_CMPOPS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_SYMBOLS = {ast.FloorDiv: "//", ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|", ast.BitAnd: "&", ast.BitXor: "^",
            ast.MatMult: "@", ast.Invert: "~", ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not"}
_NAMES = {ast.IfExp: "if-else", ast.Tuple: "a tuple", ast.List: "a list", ast.Set: "a set", ast.Dict: "a mapping",
          ast.ListComp: "a comprehension", ast.GeneratorExp: "a comprehension", ast.SetComp: "a comprehension",
          ast.DictComp: "a comprehension", ast.Starred: "*", ast.NamedExpr: ":="}
_REFUSED = {ast.Attribute: "attribute access is not allowed", ast.Subscript: "subscripts are not allowed",
            ast.Lambda: "lambdas are not allowed", ast.JoinedStr: "strings are not allowed"}
# characters the language never uses (quotes and brackets get their own messages from the node they make)
_STRAY = re.compile(r"[^A-Za-z0-9_\s.+\-*/%<>=!(),'\"\[\]]|!(?!=)|(?<![<>=!])=(?!=)")
_NUMBER = re.compile(r"(?<![A-Za-z0-9_.])(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?P<suffix>[KMG]F?)?")


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


# --- parser: Python's, then the whitelist ---------------------------------------------------------
class _Reader:
    """Text -> node tree. Numbers with K/M/G suffixes are written out first (Python has no such literal);
    `shift` maps positions in that text back to the user's."""

    def __init__(self, text: str):
        self.text = text
        self.source, self.shift = self._numbers(text)

    def fail(self, what: str, pos: int | None = None):
        pos = len(self.text) if pos is None else pos
        raise UsageError(f"bad expression {self.text!r}: {what} at character {pos + 1}")

    def _numbers(self, text: str) -> tuple[str, list]:
        out, shift, last = [], [], 0
        for m in _NUMBER.finditer(text):
            end = m.end()
            if end < len(text) and (text[end].isalnum() or text[end] in "_."):
                self.fail(f"malformed number {text[m.start():end + 1]!r}", m.start())
            suffix = m.group("suffix") or ""
            try:
                value = float(m.group()[:len(m.group()) - len(suffix)]) * SUFFIXES.get(suffix[:1], 1.0)
            except OverflowError:
                value = float("inf")
            if not np.isfinite(value):
                self.fail(f"number {m.group()!r} is too large", m.start())
            written = repr(value)
            out += [text[last:m.start()], written]
            shift.append((sum(len(p) for p in out), end))  # (position after it in source, in text)
            last = end
        out.append(text[last:])
        return "".join(out), shift

    def position(self, offset: int) -> int:
        """The user's character position of `offset` in the rewritten source."""
        back = 0
        for after_source, after_text in self.shift:
            if offset >= after_source:
                back = after_text - after_source
        return max(offset + back, 0)

    def read(self) -> _Node:
        if not self.text.strip():
            self.fail("empty expression", 0)
        stray = _STRAY.search(self.text)
        if stray:
            what = "use == to compare" if stray.group() == "=" else f"unexpected character {stray.group()[0]!r}"
            self.fail(what, stray.start())
        depth = np.cumsum([(ch == "(") - (ch == ")") for ch in self.text])
        if depth.size and depth.max() > MAX_NESTING:
            self.fail("nested too deeply", int(np.argmax(depth > MAX_NESTING)))
        try:
            tree = ast.parse(self.source, mode="eval")
        except SyntaxError as exc:
            self._syntax_error(exc)
        except (RecursionError, MemoryError):
            self.fail("nested too deeply", 0)
        return self.node(tree.body, 0)

    def _syntax_error(self, exc: SyntaxError):
        msg, offset = exc.msg or "invalid syntax", (exc.offset or 1) - 1
        if "never closed" in msg:
            self.fail("expected ')', found the end")
        if "unmatched" in msg:
            self.fail(f"unexpected {msg.split()[-1]}", self.position(offset))
        if offset >= len(self.source.rstrip()) or "unexpected EOF" in msg or _parses(self.source + " x"):
            self.fail("unexpected end")  # the text stops where an operand should follow
        self.fail(msg.removesuffix(".").replace("invalid syntax", "not an expression"), self.position(offset))

    def node(self, n: ast.AST, depth: int) -> _Node:
        if depth > MAX_NESTING:
            self.fail("nested too deeply", self.position(n.col_offset))
        kind = type(n)
        if kind is ast.Constant:
            return self._constant(n)
        if kind is ast.Name:
            return Name(n.id)
        if kind is ast.Call:
            return self._call(n, depth)
        if kind is ast.UnaryOp and type(n.op) in _UNARY:
            return Unary(_UNARY[type(n.op)], self.node(n.operand, depth + 1))
        if kind is ast.BinOp and type(n.op) in _BINOPS:
            return Binary(_BINOPS[type(n.op)], self.node(n.left, depth + 1), self.node(n.right, depth + 1))
        if kind is ast.Compare and all(type(op) in _CMPOPS for op in n.ops):
            return Compare(self.node(n.left, depth + 1), tuple(_CMPOPS[type(op)] for op in n.ops),
                           tuple(self.node(c, depth + 1) for c in n.comparators))
        if kind is ast.BoolOp:
            return BoolOp("and" if type(n.op) is ast.And else "or", tuple(self.node(v, depth + 1) for v in n.values))
        op = getattr(n, "op", None) or next(iter(getattr(n, "ops", ())), None)
        what = _REFUSED.get(kind) or (f"operator {_SYMBOLS.get(type(op), type(op).__name__)!r} is not allowed"
                                      if op is not None and kind is not ast.BoolOp else
                                      f"{_NAMES.get(kind, kind.__name__)} is not allowed")
        self.fail(what, self.position(n.col_offset))

    def _constant(self, n: ast.Constant) -> _Node:
        if isinstance(n.value, bool) or n.value is None:  # True, False, None read as (unknown) column names
            return Name(str(n.value))
        if isinstance(n.value, (int, float)):
            return Num(float(n.value))
        self.fail("strings are not allowed" if isinstance(n.value, (str, bytes)) else "only numbers are allowed",
                  self.position(n.col_offset))

    def _call(self, n: ast.Call, depth: int) -> _Node:
        pos = self.position(n.col_offset)
        if type(n.func) is not ast.Name:
            return self.node(n.func, depth + 1)  # (d.f)(): refused as what it calls
        name = n.func.id
        if name not in FUNCTIONS:
            self.fail(f"unknown function {name!r} (known: {', '.join(FUNCTIONS)})", pos)
        if n.keywords or any(type(a) is ast.Starred for a in n.args):
            self.fail(f"{name}() takes numbers only, no keywords or *", pos)
        _, lo, hi = FUNCTIONS[name]
        if len(n.args) < lo or (hi is not None and len(n.args) > hi):
            want = f"{lo}" if lo == hi else f"at least {lo}"
            self.fail(f"{name}() takes {want} argument{'s' * (want != '1')}, got {len(n.args)}", pos)
        return Call(name, tuple(self.node(a, depth + 1) for a in n.args))


def _parses(source: str) -> bool:
    try:
        ast.parse(source, mode="eval")
    except SyntaxError:
        return False
    return True


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

    def check_names(self, allowed) -> Expr:
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
    expr = Expr(_Reader(text).read())
    return expr.check_names(allowed) if allowed is not None else expr
