"""report.html + summary.json from a store, through the Python API and `designspace analyze`."""
import json
import os
import sqlite3

import pytest

from designspace.analysis.synthetic import synthetic_trials, write_synthetic_store
from designspace.cli import main
from designspace import report
from designspace.report import FIGURES, write_report
from designspace.store import connect, write_trials

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    db = str(tmp_path_factory.mktemp("report") / "results.db")
    write_synthetic_store(db, spaces=("AnyNetXA", "AnyNetXE", "RegNetX"), n=60, seed=2, penalty=0.0,
                          shift={"AnyNetXA": 3.0}, failed=0.05)
    return db


def test_write_report_writes_every_figure_and_the_summary(store, tmp_path):
    out = str(tmp_path / "rep")
    summary = write_report(store, out, n_boot=100)
    for name in FIGURES:
        path = os.path.join(out, name)
        assert os.path.getsize(path) > 1000, name
        with open(path, "rb") as fh:
            assert fh.read(8) == PNG_MAGIC
    html = open(os.path.join(out, "report.html")).read()
    for name in FIGURES:
        assert f"src='{name}'" in html
    assert "Ranking of design spaces" in html
    on_disk = json.load(open(os.path.join(out, "summary.json")))
    assert on_disk == json.loads(json.dumps(summary))
    assert summary["n_trials"] == 180 and 150 < summary["n_done"] < 180
    # AnyNetXA's errors are shifted up by 3 points: ranked last, and the KS test sees it
    assert summary["ranking"][-1]["space"] == "AnyNetXA"
    assert summary["ranking"][-1]["ks_p_vs_best"] < 1e-3
    assert {e["space"] for e in summary["efit"]} == {"AnyNetXA", "AnyNetXE", "RegNetX"}
    best = summary["expected_best_error"]["RegNetX"]
    n_reg = next(r["n"] for r in summary["ranking"] if r["space"] == "RegNetX")
    assert set(best) == {"1", "10", str(n_reg)}
    assert best["1"]["expected"] > best["10"]["expected"] > best[str(n_reg)]["expected"]
    for table in summary["tables"].values():  # the numbers behind the figures
        assert os.path.getsize(os.path.join(out, table)) > 0


def test_default_output_folder_is_beside_the_db(tmp_path):
    db = str(tmp_path / "r.db")
    write_synthetic_store(db, spaces=("AnyNetXE",), n=30, seed=4)
    write_report(db, n_boot=50)
    assert os.path.exists(tmp_path / "report" / "report.html")
    assert os.path.exists(tmp_path / "report" / "summary.json")


def test_cli_analyze_writes_report(store, tmp_path, capsys):
    out = str(tmp_path / "cli")
    assert main(["analyze", store, "--out", out, "--bootstrap", "50"]) == 0
    assert os.path.exists(os.path.join(out, "report.html"))
    assert os.path.exists(os.path.join(out, "summary.json"))
    assert "ranking" in capsys.readouterr().out


def _one_line_exit_2(argv, capsys, needle):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("designspace: error:") and needle in err[0], err
    assert "Traceback" not in err[0]


def test_cli_missing_db(tmp_path, capsys):
    _one_line_exit_2(["analyze", str(tmp_path / "nope.db")], capsys, "no result store")


def test_cli_not_a_store(tmp_path, capsys):
    junk = tmp_path / "junk.db"
    junk.write_text("not a database at all\n" * 100)
    _one_line_exit_2(["analyze", str(junk)], capsys, "not a designspace result store")
    other = str(tmp_path / "other.db")
    with sqlite3.connect(other) as con:
        con.execute("CREATE TABLE t (x)")
    _one_line_exit_2(["analyze", other], capsys, "not a designspace result store")


def test_cli_empty_store(tmp_path, capsys):
    db = str(tmp_path / "empty.db")
    connect(db).close()
    _one_line_exit_2(["analyze", db], capsys, "no trials")


def test_cli_store_without_finished_trials(tmp_path, capsys):
    db = str(tmp_path / "failed.db")
    write_trials(db, synthetic_trials(spaces=("AnyNetXE",), n=5, failed=1.0))
    _one_line_exit_2(["analyze", db], capsys, "none finished")


def test_cli_directory_and_bad_option(tmp_path, capsys):
    _one_line_exit_2(["analyze", str(tmp_path)], capsys, "directory")
    _one_line_exit_2(["analyze"], capsys, "analyze")


def test_results_do_not_depend_on_worker_processes(store, tmp_path, monkeypatch):
    monkeypatch.setattr(report, "FORK_EFIT_FROM", 0)  # exercise the forked e_fit on a small store
    one = write_report(store, str(tmp_path / "one"), n_boot=60, workers=1)
    two = write_report(store, str(tmp_path / "two"), n_boot=60, workers=2)
    for s in (one, two):
        s.pop("created_at")
    assert one == two
    for table in one["tables"].values():
        assert (tmp_path / "one" / table).read_text() == (tmp_path / "two" / table).read_text()
    assert sorted(os.listdir(tmp_path / "two")) == sorted(os.listdir(tmp_path / "one"))


def test_cli_bad_numbers(store, capsys):
    _one_line_exit_2(["analyze", store, "--bootstrap", "5"], capsys, "--bootstrap")
    _one_line_exit_2(["analyze", store, "--workers", "0"], capsys, "--workers")
