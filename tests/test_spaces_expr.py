"""The safe expression language and the columns it sees (designspace.spaces.expr / columns)."""
import json

import numpy as np
import pandas as pd
import pytest

from designspace import UsageError
from designspace.cli import main
from designspace.spaces.columns import batch_columns, column_names, table_columns
from designspace.spaces.expr import parse


def cols(**kw):
    return {k: np.asarray(v, np.float64) for k, v in kw.items()}


def test_arithmetic_comparisons_and_logic_are_vectorized():
    c = cols(flops=[300e6, 380e6, 420e6], params=[2e6, 5e6, 3e6], d=[10, 20, 30])
    e = parse("360M <= flops <= 400MF and params < 2.5 * flops ** 0.5 * 1000 or d == 30")
    assert e.names == {"flops", "params", "d"}
    np.testing.assert_array_equal(e.evaluate(c), [False, True, True])
    np.testing.assert_allclose(parse("-2 ** 2 + min(d, 15, 12) / 4 % 2").evaluate(c), [-4 + 2.5 % 2, -3, -3])
    np.testing.assert_allclose(parse("max(log(flops), sqrt(abs(-d)))").evaluate(c), np.log(c["flops"]))
    np.testing.assert_array_equal(parse("not (d > 15) and not d == 30").evaluate(c), [True, False, False])
    assert parse("1.5G").evaluate(c).tolist() == [1.5e9] * 3  # a constant broadcasts to the batch


def test_nan_compares_false():
    c = cols(b=[1, np.nan])
    assert parse("b == 1").evaluate(c).tolist() == [True, False]
    assert parse("b != 1").evaluate(c).tolist() == [False, True]


@pytest.mark.parametrize("text", [
    "params <= 2.5 * flops ** 0.5", "12 <= d <= 28 and (wm >= 2 or not b == 1)", "-(d - 3) ** 2",
    "(-2) ** 2", "2 ** -1", "min(w1, w2) / max(g, 1) > 0.5", "a - (b - c)", "(a < b) == (c < d)"])
def test_canonical_text_parses_back_to_the_same_expression(text):
    e = parse(text)
    assert parse(str(e)) == e and str(parse(str(e))) == str(e)
    c = cols(**{n: np.arange(1.0, 5.0) for n in e.names})
    np.testing.assert_array_equal(parse(str(e)).evaluate(c), e.evaluate(c))


@pytest.mark.parametrize("text, needle", [
    ("__import__('os')", "unknown function '__import__'"),
    ("().__class__", "attribute access"),
    ("d.__class__", "attribute access"),
    ("open('x')", "unknown function"),
    ("d[0]", "subscripts"),
    ("lambda: 1", "unexpected character ':'"),
    ("d = 2", "use =="),
    ("d <=", "unexpected end"),
    ("(d", "expected ')'"),
    ("", "empty"),
    ("2x", "malformed number"),
    ("log(1, 2)", "log() takes 1 argument"),
    ("min(d)", "at least 2"),
    ("d" + " + d" * 1500, "longer than"),
    ("(" * 100 + "d" + ")" * 100, "nested too deeply"),
    ("1e999", "too large"),
    ("d // 2", "operator '//' is not allowed"),
    ("1 if d else 2", "if-else is not allowed"),
    ("(d, 2) == d", "a tuple is not allowed"),
    ("min(d, key=1)", "use =="),
    ("min(*d, 2)", "no keywords or *"),
    ("[d for d in w]", "a comprehension is not allowed"),
    ("d is 1", "operator 'is' is not allowed"),
    ("-" * 200 + "d", "nested too deeply"),
])
def test_malformed_or_malicious_text_is_one_usage_error(text, needle):
    with pytest.raises(UsageError, match=".*") as err:
        parse(text)
    msg = str(err.value)
    assert needle in msg and "\n" not in msg


def test_unknown_columns_are_named():
    with pytest.raises(UsageError, match="unknown column 'depth'"):
        parse("depth < 3", allowed=column_names())
    with pytest.raises(UsageError, match="unknown column 'zz'.*known: d"):
        parse("zz > 1").evaluate(cols(d=[1]))
    with pytest.raises(UsageError):
        parse(3)


def test_batch_columns_shared_values_and_padding():
    nan = np.nan
    c = batch_columns(widths=[[8, 16, nan], [8, 16, 32]], depths=[[1, 2, nan], [1, 1, 1]],
                      bottleneck_ratios=[[1, 1, nan], [1, 2, 1]], group_widths=[[8, 8, nan], [8, 8, 8]],
                      extra={"flops": [1, 2]})
    assert c["stages"].tolist() == [2, 3] and c["d"].tolist() == [3, 3]
    assert c["b"][0] == 1 and np.isnan(c["b"][1]) and c["g"].tolist() == [8, 8]
    assert c["w2"].tolist() == [16, 16] and np.isnan(c["w3"][0])
    assert c["flops"].tolist() == [1, 2] and np.isnan(c["wm"]).all()
    assert set(c) <= set(column_names())


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_table_columns_from_every_sample_format(tmp_path, fmt):
    out = tmp_path / f"s.{fmt}"
    assert main(["sample", "--space", "RegNetX", "-n", "20", "--regime", "cifar", "--out", str(out)]) == 0
    df = {"jsonl": lambda p: pd.read_json(p, lines=True), "csv": pd.read_csv, "parquet": pd.read_parquet}[fmt](out)
    c = table_columns(df)
    rows = [json.loads(line) for line in open(out)] if fmt == "jsonl" else None
    assert np.array_equal(c["d"], df["d"].to_numpy(float))  # total depth is RegNet's d
    assert np.array_equal(c["flops"], df["flops"].to_numpy(float)) and (c["stages"] == 4).all()
    assert np.array_equal(c["w1"], [json.loads(w)[0] if isinstance(w, str) else w[0] for w in df["widths"]])
    assert (c["b"] == 1).any() or np.isnan(c["b"]).any() or (c["b"] > 1).all()
    assert parse("wm >= 1.5 and w0 <= 256").evaluate(c).all()
    if rows:
        assert c["wa"].tolist() == [r["wa"] for r in rows]


def test_table_without_stage_lists_is_a_usage_error():
    with pytest.raises(UsageError, match="lacks the columns"):
        table_columns(pd.DataFrame({"flops": [1]}))
