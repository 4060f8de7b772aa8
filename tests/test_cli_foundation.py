import json
import subprocess
import sys

import pandas as pd
import pytest

from designspace.cli import main


def run_cli(*args):
    proc = subprocess.run([sys.executable, "-m", "designspace", *args], capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


def test_sample_as_typed_writes_500_jsonl_rows_in_the_paper_band():
    rc, out, err = run_cli("sample", "--space", "AnyNetXE", "-n", "500")
    assert rc == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 500 and len({r["id"] for r in rows}) == 500
    for key in ("id", "space", "widths", "depths", "strides", "bottleneck_ratios", "group_widths", "se_ratio",
                "flops", "params", "acts", "spec"):
        assert key in rows[0]
    assert all(360e6 <= r["flops"] <= 400e6 and r["space"] == "AnyNetXE" for r in rows)
    assert all(isinstance(r[k], int) for r in rows for k in ("flops", "params", "acts"))


def test_sample_formats_agree(tmp_path, capsys):
    common = ["sample", "--space", "RegNetX", "-n", "25", "--seed", "3", "--regime", "cifar", "--flops", "10M:40M"]
    assert main(common + ["--out", str(tmp_path / "s.jsonl")]) == 0
    assert main(common + ["--out", str(tmp_path / "s.csv")]) == 0
    assert main(common + ["--out", str(tmp_path / "s.parquet")]) == 0
    rows = [json.loads(line) for line in open(tmp_path / "s.jsonl")]
    csv = pd.read_csv(tmp_path / "s.csv")
    pq = pd.read_parquet(tmp_path / "s.parquet")
    assert list(csv["id"]) == list(pq["id"]) == [r["id"] for r in rows]
    assert list(csv["flops"]) == [r["flops"] for r in rows]
    assert all(10e6 <= r["flops"] <= 40e6 for r in rows)
    assert {"d", "w0", "wa", "wm"} <= set(rows[0]) and json.loads(csv["widths"][0]) == rows[0]["widths"]


def test_describe_regnet_table_and_json(capsys):
    assert main(["describe", "--regnet", "13,24,36.44,2.49,8"]) == 0
    table = capsys.readouterr().out
    assert "199,040,872" in table and "2,684,792" in table and "res_bottleneck" in table
    assert main(["describe", "--regnet", "13,24,36.44,2.49,8,0.25", "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert (obj["flops"], obj["params"], obj["acts"]) == (199519076, 3162996, 2168052)
    assert obj["widths"] == [24, 56, 152, 368] and obj["depths"] == [1, 1, 4, 7] and obj["se_ratio"] == 0.25
    assert (obj["d"], obj["w0"], obj["wa"], obj["wm"]) == (13, 24, 36.44, 2.49)
    assert sum(s["flops"] for s in obj["stages"]) < obj["flops"]  # stem and head are outside stages


def test_describe_spec_file_and_sample_row(tmp_path, capsys):
    assert main(["sample", "--space", "AnyNetXA", "-n", "2", "--regime", "fashion-mnist",
                 "--out", str(tmp_path / "rows.jsonl")]) == 0
    row = json.loads(open(tmp_path / "rows.jsonl").readline())
    (tmp_path / "spec.json").write_text(json.dumps(row["spec"]))
    for path, row_args in (("spec.json", []), ("rows.jsonl", ["--row", "0"])):  # a 2-row table names its row
        assert main(["describe", str(tmp_path / path), *row_args, "--regime", "fashion-mnist", "--json"]) == 0
        obj = json.loads(capsys.readouterr().out)
        assert obj["id"] == row["id"] and obj["flops"] == row["flops"]
    with_bottleneck = main(["describe", "--regnet", "13,24,36.44,2.49,8", "--bottleneck", "2", "--json"])
    assert with_bottleneck == 0 and json.loads(capsys.readouterr().out)["bottleneck_ratios"] == [2.0] * 4


def test_spaces_lists_every_space_and_its_parameters(capsys):
    assert main(["spaces"]) == 0
    out = capsys.readouterr().out
    for name in ("AnyNetXA", "AnyNetXB", "AnyNetXC", "AnyNetXD", "AnyNetXE", "RegNetX", "RegNetY"):
        assert name + ":" in out
    assert "wm" in out and "non-decreasing" in out


@pytest.mark.parametrize("args, needle", [
    (["sample", "--space", "NoSuchNet"], "valid: AnyNetXA"),
    (["sample", "--flops", "400M"], "malformed flops band"),
    (["sample", "--flops", "4M:1M"], "LOW <= HIGH"),
    (["sample", "-n", "0"], "number of models must be >= 1"),
    (["sample", "-n", "x"], "invalid int value"),
    (["sample", "--regime", "mnist"], "unknown regime"),
    (["sample", "--flops", "1K:2K", "-n", "3"], "reachable"),
    (["sample", "-n", "2", "--out", "/no/such/dir/x.jsonl"], "does not exist"),
    (["sample", "-n", "2", "--out", "x.txt"], "unknown output format"),
    (["describe", "/no/such/spec.json"], "cannot read spec file"),
    (["describe", "--regnet", "13,24,36.44"], "d,w0,wa,wm,g"),
    (["describe", "--regnet", "13,20,36.44,2.49,8"], "multiple of 8"),
    (["describe"], "exactly one of"),
    (["nonsense"], "unknown command 'nonsense'"),
])
def test_bad_input_is_one_line_and_exit_2(args, needle, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_bad_spec_file_is_one_line_and_exit_2_in_a_real_process(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"stages": [{"depth": 1, "width": -8}]}')
    rc, out, err = run_cli("describe", str(bad))
    assert rc == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err
    bad.write_text("not json")
    rc, _, err = run_cli("describe", str(bad))
    assert rc == 2 and "not valid JSON" in err and err.count("\n") == 1


def test_an_existing_output_survives_a_failed_sample(tmp_path):
    out = tmp_path / "keep.jsonl"
    out.write_text("precious\n")
    assert main(["sample", "--flops", "1K:2K", "-n", "3", "--out", str(out)]) == 2
    assert out.read_text() == "precious\n"
