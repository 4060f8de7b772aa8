"""One analysis, two views: analyze() returns one typed result; the report shows its numbers, every
figure or the sentence that replaces it, the recipe as written, and one interval level."""
import json
import os
import re
from html.parser import HTMLParser

import numpy as np
import pytest

from designspace.analysis import AnalysisResult, Settings, analyze
from designspace.analysis.synthetic import synthetic_trials, write_synthetic_store
from designspace.report import write_report
from designspace.report.page import render
from designspace.store import write_trials


class Tables(HTMLParser):
    """Every <table id=...> of a page as {id: [row: [cell text]]}, and the text of <p class=missing>."""

    def __init__(self):
        super().__init__()
        self.tables, self.missing, self._table, self._row, self._cell, self._p = {}, [], None, None, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._table = self.tables.setdefault(a.get("id") or f"t{len(self.tables)}", [])
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = ""
        elif tag == "p" and a.get("class") == "missing":
            self._p = ""

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif tag == "tr" and self._row is not None:
            self._table.append(self._row)
            self._row = None
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append(self._cell.strip())
            self._cell = None
        elif tag == "p" and self._p is not None:
            self.missing.append(self._p.strip())
            self._p = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data
        if self._p is not None:
            self._p += data


def parse(html: str) -> Tables:
    p = Tables()
    p.feed(html)
    return p


def numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", text)]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    db = str(tmp_path_factory.mktemp("result") / "results.db")
    write_synthetic_store(db, spaces=("AnyNetXA", "AnyNetXE", "RegNetX"), n=60, seed=2, penalty=0.0,
                          shift={"AnyNetXA": 3.0}, failed=0.05)
    return db


@pytest.fixture(scope="module")
def result(store):
    return analyze(store, n_boot=100)


def test_analyze_returns_one_typed_jsonable_result(result, store):
    assert isinstance(result, AnalysisResult)
    assert result.sources == (store,) and result.n_models == len(result.tables["models"]) > 150
    from dataclasses import FrozenInstanceError

    with pytest.raises(FrozenInstanceError):
        result.n_models = 1
    import pickle

    assert pickle.loads(pickle.dumps(result)).ranking.equals(result.ranking)  # can come back from a worker
    d = json.loads(json.dumps(result.to_dict(), allow_nan=False))  # plain JSON, no NaN
    assert d["n_models"] == result.n_models and d["settings"]["n_boot"] == 100
    assert [r["population"] for r in d["tables"]["ranking"]] == list(result.ranking["population"])
    edf = d["figures"]["edf"]
    assert edf["missing"] is None and len(edf["panels"]) == 1
    series = {s["group"]: s for s in edf["panels"][0]["series"]}
    assert set(series) == {"AnyNetXA", "AnyNetXE", "RegNetX"}
    for s in series.values():  # plain arrays of one length, cdf within its band
        x, cdf, lo, hi = (np.array(s["data"][k], float) for k in ("error", "cdf", "lo", "hi"))
        assert len(x) == len(cdf) == len(lo) == len(hi) > 10
        assert np.all(lo <= cdf + 1e-12) and np.all(cdf <= hi + 1e-12) and cdf[-1] == 1.0
    scatter = d["figures"]["efit"]["panels"][0]["series"][0]["data"]
    assert len(scatter["spec_id"]) == len(scatter["e_fit"]) == len(scatter["error"]) > 0
    assert all(isinstance(i, str) and i for i in scatter["spec_id"])


def test_the_report_shows_the_results_numbers(result, store, tmp_path):
    html = render(result, {})
    rows = parse(html).tables["ranking"]
    header, body = rows[0], rows[1:]
    assert len(header) <= 11 and len(body) == len(result.ranking)
    col = {h: i for i, h in enumerate(header)}
    for cells, r in zip(body, result.ranking.itertuples()):
        assert cells[col["population"]] == r.population
        assert int(cells[col["models"]]) == r.n
        med, lo, hi = numbers(cells[col["median [90%]"]])
        assert (med, lo, hi) == pytest.approx((r.median, r.median_lo, r.median_hi), abs=5e-4)
        assert numbers(cells[col["best"]])[0] == pytest.approx(r.best, abs=5e-4)
        if r.rank > 1:
            assert float(cells[col["KS p vs #1"]]) == pytest.approx(r.ks_p_vs_best, rel=1e-2)
    # a guide explains every column of the ranking
    for h in header:
        assert f"<dt>{h}</dt>" in html
    # the same numbers in the written report, its summary and the result of another call
    summary = write_report(store, str(tmp_path / "rep"), n_boot=100, workers=1)
    assert [r["median"] for r in summary["ranking"]] == pytest.approx(list(result.ranking["median"]))
    again = parse(open(tmp_path / "rep" / "report.html").read()).tables["ranking"]
    assert again == rows


def test_every_figure_has_content_or_its_sentence(tmp_path):
    """A tiny population: 4 models per space. No figure is an empty axes."""
    from designspace import plots as P

    db = str(tmp_path / "tiny.db")
    write_synthetic_store(db, spaces=("AnyNetXE", "RegNetX"), n=4, seed=3)
    out = str(tmp_path / "rep")
    summary = write_report(db, out, n_boot=20, workers=1)
    result = analyze(db, n_boot=20)
    page = parse(open(os.path.join(out, "report.html")).read())
    html = open(os.path.join(out, "report.html")).read()
    missing = {n: f.missing for n, f in result.figures.items() if not f.drawn}
    # too few models for the best-model bands (8 per bin) and for two complexity bins: said in words
    assert {"trends_best", "edf_normalized"} <= set(missing)
    assert "at least 8 models" in missing["trends_best"]
    for name, f in result.figures.items():
        figure = html.split(f'<figure id="figure-{name}">', 1)[1].split("</figure>", 1)[0]
        if f.drawn:
            assert "<img " in figure and f"{name}.png" in summary["figures"]
            fig = P.draw(f)
            for ax in [a for a in fig.axes if a.get_visible()]:
                has = [a for a in (*ax.lines, *ax.collections) if _has_data(a)]
                assert has, f"{name}: an axes without data"
        else:
            assert "<img " not in figure and f.missing in page.missing
            assert f"{name}.png" not in summary["figures"] and not os.path.exists(os.path.join(out, f"{name}.png"))
            assert summary["figures_not_drawn"][f"{name}.png"] == f.missing


def _has_data(artist) -> bool:
    if hasattr(artist, "get_xydata"):
        return len(artist.get_xydata()) > 0
    if hasattr(artist, "get_offsets") and len(artist.get_offsets()):
        return True
    return any(len(p.vertices) for p in artist.get_paths())


def test_recipe_is_a_table_of_values_as_written(tmp_path):
    db = str(tmp_path / "r.db")
    recipe = {"epochs": 1, "lr": 0.1, "batch_size": 128, "train_size": 2000, "wd": 5e-05,
              "optimizer": {"name": "sgd", "momentum": 0.9, "nesterov": True}}
    write_trials(db, [dict(r, recipe=recipe) for r in synthetic_trials(spaces=("AnyNetXA", "RegNetX"), n=12)])
    out = str(tmp_path / "rep")
    write_report(db, out, n_boot=20, workers=1)
    page = parse(open(os.path.join(out, "report.html")).read())
    rows = {r[0]: r[1] for r in page.tables["recipe"][1:]}
    assert rows == {"epochs": "1", "lr": "0.1", "batch_size": "128", "train_size": "2000", "wd": "5e-05",
                    "optimizer.name": "sgd", "optimizer.momentum": "0.9", "optimizer.nesterov": "true"}
    head, *pops = page.tables["populations"]
    assert pops[0][head.index("epochs")] == "1"  # not 1.000
    settings = {r[0]: r[1] for r in page.tables["settings"][1:]}
    assert settings["n_boot"] == "20" and settings["level"] == "0.9" and settings["normalize"] == "flops"


def test_one_interval_level_throughout(store, tmp_path):
    out = str(tmp_path / "rep")
    write_report(store, out, workers=1, settings=Settings(n_boot=50, level=0.8))
    html = open(os.path.join(out, "report.html")).read()
    text = re.sub(r"<[^>]+>", " ", html)
    stated = re.findall(r"(\d+)% (?:pointwise |percentile )?(?:bootstrap )?(?:interval|band)", text)
    stated += re.findall(r"central (\d+)%", text) + re.findall(r"\[(\d+)%\]", text)
    assert len(stated) >= 6 and set(stated) == {"80"}, stated
    assert "95%" not in text and "90%" not in text
    result = analyze(store, settings=Settings(n_boot=50, level=0.8))
    assert "80%" in result.figures["trends_error"].caption
    band = result.tables["trend_bands"].iloc[0]
    assert band["lo"] <= band["median"] <= band["hi"]


def test_analyze_takes_a_model_table_too(result, store):
    models = result.tables["models"]
    from designspace.analysis import model_table, read_population

    again = analyze(model_table(read_population([store])), n_boot=100)
    assert again.n_models == result.n_models
    assert list(again.ranking["median"]) == pytest.approx(list(result.ranking["median"]))
    assert len(models) == result.n_models


def test_each_figure_is_handed_out_once_as_soon_as_its_tables_exist(store, result):
    """on_figure receives every drawable figure exactly once, before analyze returns, with the data the
    result holds: with a pool, a caller draws a figure while the analysis's other parts still run."""
    import dataclasses
    from concurrent.futures import ThreadPoolExecutor

    from designspace.analysis.result import jsonable

    for executor in (None, ThreadPoolExecutor(2)):
        seen = []
        got = analyze(store, n_boot=100, executor=executor, on_figure=seen.append)
        assert sorted(f.name for f in seen) == sorted(n for n, f in got.figures.items() if f.drawn)
        assert len({f.name for f in seen}) == len(seen)
        for f in seen:
            assert f is got.figures[f.name]
            # the same data with or without an executor
            assert json.dumps(jsonable(dataclasses.asdict(f))) == \
                json.dumps(jsonable(dataclasses.asdict(result.figures[f.name])))
        assert list(got.tables) == list(result.tables)
        if executor is not None:
            executor.shutdown()


def test_the_jobs_are_handed_to_an_executor_before_the_tables_built_here(store, monkeypatch):
    """With an executor, analyze submits its jobs as soon as the model table and the bins exist: the
    top models, the proxy pair and the figures' builders are made while a worker runs the jobs."""
    from concurrent.futures import ThreadPoolExecutor

    from designspace.analysis import full

    order = []

    class Recording(ThreadPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):
            order.append("submit")
            return super().submit(fn, *args, **kwargs)

    monkeypatch.setattr(full, "_top_models", lambda *a, f=full._top_models: (order.append("top_models"), f(*a))[1])
    with Recording(2) as executor:
        analyze(store, n_boot=50, executor=executor)
    assert order[0] == "submit" and "top_models" in order


def test_the_numeric_jobs_are_handed_over_before_the_specs_are_parsed(store, monkeypatch):
    """The ranking, EDF bands, KS tests and search efficiency need only numbers: a worker runs them
    while this process parses the models' specs (once per model), which only e_fit's job needs."""
    from concurrent.futures import ThreadPoolExecutor

    from designspace.analysis import full

    order = []

    class Recording(ThreadPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):
            order.append(fn.func.__name__)
            return super().submit(fn, *args, **kwargs)

    def flatten(models, *a, f=full.flatten_specs):
        order.append(f"flatten {len(models)}")
        return f(models, *a)

    monkeypatch.setattr(full, "flatten_specs", flatten)
    with Recording(2) as executor:
        got = analyze(store, n_boot=50, executor=executor)
    assert order == ["rank_spaces", "edf_bands", "edf_bands", "ks_pairs", "search_efficiency",
                     f"flatten {got.n_models}", "model_tables"]
    assert got.n_models < got.n_trials  # parsed per model (finished ones), not per trial
