"""status and describe as a user meets them: sweep selection, a row's own regime, rows of tables."""
import json

import pytest

from designspace.analysis.synthetic import synthetic_trials
from designspace.cli import main
from designspace.store import write_trials


def one_line_exit_2(argv, capsys, needle):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0] and "Traceback" not in err[0], err


def test_status_selects_sweeps(tmp_path, capsys):
    db = str(tmp_path / "r.db")
    write_trials(db, synthetic_trials(spaces=("RegNetX",), n=4, sweep="a")
                 + synthetic_trials(spaces=("AnyNetXA",), n=3, sweep="b", seed=1))
    assert main(["status", db, "--json"]) == 0
    assert {s["sweep"] for s in json.loads(capsys.readouterr().out)} == {"a", "b"}
    assert main(["status", db, "--sweep", "b", "--json"]) == 0
    (only,) = json.loads(capsys.readouterr().out)
    assert only["sweep"] == "b" and only["stored"] == 3
    assert main(["status", db, "--sweep", "all"]) == 0
    assert "sweep a" in capsys.readouterr().out
    one_line_exit_2(["status", db, "--sweep", "c"], capsys, "no sweep named c")
    one_line_exit_2(["status", str(tmp_path / "none.db")], capsys, "no result store")


@pytest.fixture()
def rows(tmp_path):
    paths = {}
    for ext in (".jsonl", ".csv", ".parquet"):
        paths[ext] = str(tmp_path / f"rows{ext}")
        assert main(["sample", "--space", "RegNetX", "-n", "3", "--regime", "fashion-mnist", "--seed", "2",
                     "--out", paths[ext]]) == 0
    return paths, [json.loads(line) for line in open(paths[".jsonl"])]


def test_describe_uses_the_rows_own_regime(rows, capsys):
    paths, sample = rows
    for ext, path in paths.items():
        for k in (0, 2):
            assert main(["describe", path, "--row", str(k), "--json"]) == 0
            obj = json.loads(capsys.readouterr().out)
            assert obj["id"] == sample[k]["id"] and obj["regime"] == "fashion-mnist", ext
            assert obj["flops"] == sample[k]["flops"], ext  # not the imagenet count of the same spec
        assert main(["describe", path, "--id", sample[1]["id"], "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["id"] == sample[1]["id"]
    # an explicit --regime still wins
    assert main(["describe", paths[".jsonl"], "--row", "0", "--regime", "imagenet", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["flops"] > sample[0]["flops"]


def test_describe_bad_files_and_rows(rows, tmp_path, capsys):
    paths, _ = rows
    one_line_exit_2(["describe", paths[".csv"], "--row", "7"], capsys, "outside")
    one_line_exit_2(["describe", paths[".parquet"], "--id", "nope"], capsys, "no row with id")
    binary = tmp_path / "model.json"
    binary.write_bytes(bytes(range(256)) * 4)
    one_line_exit_2(["describe", str(binary)], capsys, "binary")
    fake = tmp_path / "fake.parquet"
    fake.write_text("not parquet")
    one_line_exit_2(["describe", str(fake)], capsys, "parquet")
    one_line_exit_2(["describe", "--regnet", "13,24,36.44,2.49,8", "--row", "1"], capsys, "--row")
