"""`make demo` is big enough for its own report and for `refine`: the demo's planned models (sampled
exactly as the sweep samples them, errors made up) fill every figure's minimum, and the README's
refine example runs on the demo store. Training them is `make demo`'s job, not this test's."""
import os
import re

import numpy as np
import pytest

from designspace import analysis as A
from designspace.analysis.refine import refine
from designspace.report import write_report
from designspace.store import load, write_trials
from designspace.sweep import load_config, plan_trials

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "experiments", "demo.yaml")


def readme_refine_example():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as fh:
        text = fh.read()
    match = re.search(r"^designspace refine (\S+) --space (\S+) --try \"([^\"]+)\"", text, re.M)
    assert match, "the README has a refine example on the demo store"
    return match.groups()


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    """The demo's planned trials as a store, each 'trained' with a made-up error."""
    cfg = load_config(CONFIG)
    rows = plan_trials(cfg, data_dir=None)
    rng = np.random.default_rng(0)
    shift = {"AnyNetXA": 4.0}
    for r in rows:
        r.update(status="done", error=float(30 + shift.get(r["space"], 0.0) - 2 * np.log(r["flops"] / 1e6)
                                             + rng.normal(0, 3)), epochs=1.0, seconds=1.0)
    db = str(tmp_path_factory.mktemp("demo") / "results.db")
    write_trials(db, rows)
    return cfg, db


def test_the_demo_report_has_content_in_every_figure(demo_store, tmp_path):
    cfg, db = demo_store
    models = A.model_table(A.read_population([db]))
    params = A.design_parameters(models, A.model_efit(models))
    # "Best models against flops": every space has a flops bin with the models an estimate needs
    bands = A.best_model_bands(params, by="space", n_boot=20)
    assert set(bands["space"]) == set(cfg.spaces), bands["space"].unique()
    # the normalized EDF keeps several complexity bins (the 15-model demo fell back to one)
    assert A.choose_bins(models, "flops", "space", 10, 3)["num_bins"] >= 3
    summary = write_report(db, str(tmp_path / "report"), n_boot=50)
    assert [n for n in summary["figures"] if n != "fidelity.png"] == \
        ["edf.png", "edf_normalized.png", "top_widths.png", "efit.png", "trends_error.png", "trends_best.png",
         "complexity.png", "search.png"]


def test_the_readme_refine_example_ranks_candidates_on_the_demo_store(demo_store):
    cfg, db = demo_store
    store, space, expression = readme_refine_example()
    assert store == cfg.store and space in cfg.spaces
    table = refine(load(db), space=space, tries=[expression], n_boot=50)
    ranked = table[~table["status"].astype(str).str.startswith("skipped")]
    assert len(ranked) >= 10, table["status"].value_counts()
    (mine,) = table[table["candidate"] == expression]["status"].astype(str)
    assert not mine.startswith("skipped"), mine  # the README's own --try is ranked, not skipped
