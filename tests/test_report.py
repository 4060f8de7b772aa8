"""report.html + summary.json from a store, through the Python API and `designspace analyze`."""
import json
import os
import sqlite3

import numpy as np
import pytest

from designspace.analysis.figures import TITLES
from designspace.analysis.synthetic import synthetic_trials, write_synthetic_store
from designspace.cli import main
from designspace.report import write_report
from designspace.store import connect, write_trials

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    db = str(tmp_path_factory.mktemp("report") / "results.db")
    write_synthetic_store(db, spaces=("AnyNetXA", "AnyNetXE", "RegNetX"), n=60, seed=2, penalty=0.0,
                          shift={"AnyNetXA": 3.0}, failed=0.05)
    return db


@pytest.fixture(scope="module")
def full_report(store, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("full") / "rep")
    return out, write_report(store, out, n_boot=100)


def test_write_report_writes_every_figure_and_the_summary(full_report):
    out, summary = full_report
    expected = [f"{n}.png" for n in TITLES if n != "fidelity"]  # one sweep: no second budget to compare
    assert summary["figures"] == expected
    for name in expected:
        path = os.path.join(out, name)
        assert os.path.getsize(path) > 1000, name
        with open(path, "rb") as fh:
            assert fh.read(8) == PNG_MAGIC
    html = open(os.path.join(out, "report.html")).read()
    assert html.count('src="data:image/png;base64,') == len(expected)
    assert "Ranking of design spaces" in html
    on_disk = json.load(open(os.path.join(out, "summary.json")))
    assert on_disk == json.loads(json.dumps(summary))
    assert summary["n_trials"] == 180 and 150 < summary["n_done"] < 180 and summary["n_models"] == summary["n_done"]
    # AnyNetXA's errors are shifted up by 3 points: ranked last, and the KS test sees it
    assert summary["ranking"][-1]["space"] == "AnyNetXA"
    assert summary["ranking"][-1]["ks_p_vs_best"] < 1e-3
    assert {e["population"] for e in summary["efit"]} == {"AnyNetXA", "AnyNetXE", "RegNetX"}
    best = summary["expected_best_error"]["RegNetX"]
    n_reg = next(r["n"] for r in summary["ranking"] if r["space"] == "RegNetX")
    assert set(best) == {"1", "10", str(n_reg)}
    assert best["1"]["expected"] > best["10"]["expected"] > best[str(n_reg)]["expected"]
    import pandas as pd

    search = pd.read_csv(os.path.join(out, "data", "search.csv"))
    for population, at in summary["expected_best_error"].items():  # each one's rows of the search table
        rows = search[(search["population"] == population) & search["m"].astype(str).isin(list(at))]
        assert len(rows) == len(at) and "1" in at
        for r in rows.itertuples():
            assert at[str(r.m)] == pytest.approx({"expected": r.expected, "lo": r.lo, "hi": r.hi}, rel=1e-12)
    for table in summary["tables"].values():  # the numbers behind the figures
        assert os.path.getsize(os.path.join(out, table)) > 0
    # what a reader needs to check it: sweep, dataset, regime, recipe, settings, definitions
    pop = summary["populations"][0]
    assert pop["sweep"] == "synthetic" and pop["dataset"] == "synthetic" and pop["regime"] == "fashion-mnist"
    assert pop["recipe"] == {"synthetic": True} and set(pop["spaces"]) == {"AnyNetXA", "AnyNetXE", "RegNetX"}
    assert summary["settings"]["normalize"] == "flops" and summary["settings"]["search_weights"] == "normalized"
    for word in ("synthetic", "fashion-mnist", "normalize", "min_per_bin", "space definition"):
        assert word in html, word
    assert pop["definitions"]["RegNetX"]["name"] == "RegNetX"  # the registry's full definition
    # captions say what was drawn: the widths figure shows 20 of each space's n models
    for r in summary["ranking"]:
        assert f"{r['space']}: 20 of {r['n']}" in html
    # p-values in scientific notation, never a rounded 0.000
    p = summary["ranking"][-1]["ks_p_vs_best"]
    assert f"{p:.2e}" in html


def test_default_output_folder_is_beside_the_db(tmp_path):
    db = str(tmp_path / "r.db")
    write_synthetic_store(db, spaces=("AnyNetXE",), n=30, seed=4)
    write_report(db, n_boot=50)
    assert os.path.exists(tmp_path / "report" / "report.html")
    assert os.path.exists(tmp_path / "report" / "summary.json")


def test_cli_analyze_writes_report(tmp_path, capsys):
    db = str(tmp_path / "small.db")
    write_synthetic_store(db, spaces=("AnyNetXE", "RegNetX"), n=15, seed=3)
    out = str(tmp_path / "cli")
    assert main(["analyze", db, "--out", out, "--bootstrap", "20", "--normalize", "none"]) == 0
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


@pytest.mark.parametrize("split_efit", [False, True])
def test_results_do_not_depend_on_worker_processes(tmp_path, monkeypatch, split_efit):
    """The same report from one process and from a pool, also where the pool fits e_fit in parts
    (which it does from EFIT_SPLIT_MIN_MODELS models on)."""
    from designspace.analysis import full

    if split_efit:
        monkeypatch.setattr(full, "EFIT_SPLIT_MIN_MODELS", 1)
    store = str(tmp_path / "w.db")
    write_synthetic_store(store, spaces=("AnyNetXA", "RegNetX"), n=30, seed=5)
    one = write_report(store, str(tmp_path / "one"), n_boot=60, workers=1)
    two = write_report(store, str(tmp_path / "two"), n_boot=60, workers=2)
    for s in (one, two):
        s.pop("created_at")
    assert one == two
    # in the same order too, although the pool's parts finish in any order
    assert json.dumps(one) == json.dumps(two)
    for table in one["tables"].values():
        assert (tmp_path / "one" / table).read_text() == (tmp_path / "two" / table).read_text()
    assert sorted(os.listdir(tmp_path / "two")) == sorted(os.listdir(tmp_path / "one"))
    for name in one["figures"]:  # half of them drawn by the pool's process
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name


def test_report_leaves_the_garbage_collector_as_it_found_it(store, tmp_path, monkeypatch):
    """write_report pauses automatic collection while it runs, and only while it runs."""
    import gc

    from designspace.errors import UsageError

    assert gc.isenabled() and gc.get_freeze_count() == 0
    write_report(store, str(tmp_path / "a"), n_boot=20, workers=1)
    assert gc.isenabled()
    # what the report froze while drawing (its analysis's objects) is unfrozen again, with a pool too
    import designspace.report as report

    frozen = []
    monkeypatch.setattr(report, "write_tables", lambda *a, w=report.write_tables: (
        frozen.append(gc.get_freeze_count()), w(*a))[1])  # runs in this process while the worker draws
    write_report(store, str(tmp_path / "p"), n_boot=20, workers=2)
    assert frozen and max(frozen) > 0 and gc.get_freeze_count() == 0 and gc.isenabled()
    with pytest.raises(UsageError):
        write_report(str(tmp_path / "missing.db"), str(tmp_path / "b"), n_boot=20, workers=1)
    assert gc.isenabled()
    gc.disable()
    try:
        write_report(store, str(tmp_path / "c"), n_boot=20, workers=1)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_cli_bad_numbers(store, capsys):
    _one_line_exit_2(["analyze", store, "--bootstrap", "5"], capsys, "--bootstrap")
    _one_line_exit_2(["analyze", store, "--workers", "0"], capsys, "--workers")


def test_cli_bootstrap_is_bounded(store, capsys):
    _one_line_exit_2(["analyze", store, "--bootstrap", "1e9"], capsys, "--bootstrap")
    _one_line_exit_2(["analyze", store, "--bootstrap", "many"], capsys, "--bootstrap")
    _one_line_exit_2(["analyze", store, "--normalize", "acts"], capsys, "--normalize")


def test_report_html_alone_renders_every_figure(full_report, tmp_path):
    import base64
    import re
    import shutil

    out, summary = full_report
    moved = tmp_path / "elsewhere" / "copy.html"
    moved.parent.mkdir()
    shutil.copy(os.path.join(out, "report.html"), moved)  # the file alone, without its folder
    html = moved.read_text()
    sources = re.findall(r'<img src="([^"]*)"', html)
    assert len(sources) == len(summary["figures"]) > 0
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.split(",", 1)[1])
        assert png[:8] == PNG_MAGIC and len(png) > 1000
        # at least 150 dpi: pixel width of the PNG header / the figure's width in inches >= 150
        width = int.from_bytes(png[16:20], "big")
        assert width >= 150 * 5
    assert not re.findall(r'src="(?!data:)', html)


def test_every_figure_is_redrawn_from_its_csv(full_report, tmp_path):
    from matplotlib.image import imread

    from designspace import plots as P
    from designspace.report import figure_from_csv

    out, summary = full_report
    for name in summary["figures"]:
        again = P.save(figure_from_csv(name, os.path.join(out, "data")), str(tmp_path / name))
        a, b = imread(os.path.join(out, name)), imread(again)
        assert a.shape == b.shape, name
        assert np.abs(a - b).mean() < 1e-3, name  # the same picture from the numbers alone


def repeated_store(path, repeats=3, n=20, sweep="s", recipe=None, shift=None, noise=0.3, seed=0):
    rows = synthetic_trials(spaces=("AnyNetXA", "RegNetX"), n=n, seed=seed, sweep=sweep, shift=shift)
    rng = np.random.default_rng(seed + 1)
    out = []
    for r in rows:
        for s in range(repeats):
            out.append(dict(r, seed=s, trial_id=f"{sweep}-{r['trial_id']}-{s}",
                            error=r["error"] + rng.normal(0, noise), recipe=recipe or r["recipe"]))
    write_trials(path, out)
    return path


def test_repeats_count_once(tmp_path):
    db = repeated_store(str(tmp_path / "r.db"), repeats=3, n=20)
    summary = write_report(db, str(tmp_path / "rep"), n_boot=50, workers=1)
    assert summary["n_trials"] == 120 and summary["n_models"] == 40
    assert {r["space"]: (r["n"], r["trials"]) for r in summary["ranking"]} == {"AnyNetXA": (20, 60),
                                                                               "RegNetX": (20, 60)}
    spread = {r["population"]: r for r in summary["repeats"]}
    assert all(0.15 < s["pooled_std"] < 0.45 and s["models_with_repeats"] == 20 for s in spread.values())
    assert any("seed-to-seed spread" in n["text"] for n in summary["notes"])


def test_two_sweeps_need_a_choice_and_compare_side_by_side(tmp_path, capsys):
    db = str(tmp_path / "two.db")
    repeated_store(db, repeats=1, n=25, sweep="proxy", recipe={"epochs": 1})
    repeated_store(db, repeats=1, n=25, sweep="full", recipe={"epochs": 10}, noise=0.5)
    assert main(["analyze", db, "--bootstrap", "20"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "proxy" in err[0] and "full" in err[0] and "--sweep" in err[0]
    assert not os.path.exists(tmp_path / "report")  # nothing written
    out = str(tmp_path / "side")
    assert main(["analyze", db, "--sweep", "proxy", "--sweep", "full", "--out", out, "--bootstrap", "50"]) == 0
    summary = json.load(open(os.path.join(out, "summary.json")))
    assert {r["population"] for r in summary["ranking"]} == {"proxy:AnyNetXA", "proxy:RegNetX", "full:AnyNetXA",
                                                            "full:RegNetX"}
    assert "fidelity.png" in summary["figures"]
    corr = {c["statistic"]: c for c in summary["fidelity"]["correlation"]}
    assert corr["spearman"]["n"] == 50 and corr["spearman"]["estimate"] > 0.5  # same errors plus noise
    assert corr["spearman"]["lo"] <= corr["spearman"]["estimate"] <= corr["spearman"]["hi"]
    assert main(["analyze", db, "--sweep", "nope", "--out", str(tmp_path / "x")]) == 2
    assert "no sweep named nope" in capsys.readouterr().err


def test_analyze_a_table_from_elsewhere(tmp_path, capsys):
    from designspace.complexity import complexity
    from designspace.regimes import get_regime
    from designspace.spaces import get_space
    from designspace.table import spec_rows, write_rows

    regime = get_regime("cifar")
    rows = []
    for k, (space, shift) in enumerate((("AnyNetXA", 2.0), ("RegNetX", 0.0))):
        specs = get_space(space).sample(40, seed=k, regime=regime)
        rng = np.random.default_rng(k)
        for r in spec_rows(specs, complexity(specs, regime), regime.name):
            rows.append(dict(r, error=float(10 + shift + rng.normal())))
    path = str(tmp_path / "mine.parquet")
    write_rows(rows, path)
    out = str(tmp_path / "rep")
    assert main(["analyze", path, "--out", out, "--bootstrap", "30", "--normalize", "params"]) == 0
    summary = json.load(open(os.path.join(out, "summary.json")))
    assert summary["n_models"] == 80 and summary["ranking"][0]["space"] == "RegNetX"
    assert summary["settings"]["normalize"] == "params"


def test_cli_binary_table_is_one_line(tmp_path, capsys):
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(bytes(range(256)) * 10)
    _one_line_exit_2(["analyze", str(junk)], capsys, "cannot read")


def test_plot_functions_draw_into_given_axes(full_report):
    from matplotlib.figure import Figure

    from designspace import plots as P
    from designspace.report import figure_from_csv  # noqa: F401 - same tables as the report

    out, _ = full_report
    data = os.path.join(out, "data")
    import pandas as pd

    fig = Figure()
    ax = fig.subplots()
    assert P.plot_search(pd.read_csv(os.path.join(data, "search.csv")), by="population", ax=ax) is fig
    assert ax.get_legend() is not None and "n=" in ax.get_legend().get_texts()[0].get_text()
    fig2 = Figure()
    axes = fig2.subplots(1, 3)
    top = pd.read_csv(os.path.join(data, "top_models.csv"))
    assert P.plot_top_widths(top, by="population", ax=axes) is fig2
    with pytest.raises(ValueError, match="axes"):
        P.plot_top_widths(top, by="population", ax=axes[:1])


@pytest.mark.parametrize("step", [None, "post"])
def test_bands_are_the_polygons_fill_between_draws(step):
    from matplotlib.figure import Figure

    from designspace import plots as P

    rng = np.random.default_rng(0)
    x = np.sort(rng.random(12))
    lo, hi = rng.random(12), 1 + rng.random(12)
    lo[4] = np.nan  # a gap: two polygons
    hi[11] = np.inf
    bands = [(x, lo, hi, "C0"), (x[:5], lo[5:10], hi[:5], "C1")]
    expected = Figure().subplots()
    expected = [p.vertices for x_, lo_, hi_, c in bands
                for p in expected.fill_between(x_, lo_, hi_, step=step).get_paths()]
    ax = Figure().subplots()
    P._fill_bands(ax, bands, alpha=0.2, step=step)
    (collection,) = ax.collections
    got = [p.vertices for p in collection.get_paths()]
    assert len(got) == len(expected) == 3
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)
