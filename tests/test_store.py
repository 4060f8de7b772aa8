"""The SQLite store: idempotent writes, readers during writes, load columns, export, summary."""
import json
import sqlite3
import threading

import pandas as pd
import pytest

from designspace import store
from designspace.errors import UsageError
from designspace.spaces import get_space


def make_rows(n, sweep="s", space="AnyNetXA", seed=0):
    specs = get_space(space).sample(n, seed=seed, flops="0.2M:1M", regime="fashion-mnist")
    rows = []
    for i, spec in enumerate(specs):
        status = ("done", "done", "failed", "diverged")[i % 4]
        rows.append({"trial_id": store.trial_id(spec.id, {"epochs": 1, "sweep": sweep}, 0), "sweep": sweep,
                     "space": space, "spec_id": spec.id, "spec": spec.to_json(), "regime": "fashion-mnist",
                     "dataset": "synthetic", "recipe": {"epochs": 1}, "seed": 0, "flops": 1000 + i,
                     "params": 10 + i, "acts": 5, "status": status,
                     "error": 50.0 + i if status == "done" else None, "train_loss": 1.0,
                     "epochs": 1.0, "seconds": 2.0, "images_per_s": 100.0})
    return rows


def count(db):
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT COUNT(*), COUNT(DISTINCT trial_id) FROM trials").fetchone()
    finally:
        con.close()


def test_writes_are_idempotent(tmp_path):
    db = str(tmp_path / "r.db")
    rows = make_rows(8)
    assert store.write_trials(db, rows) == 8
    store.write_trials(db, rows)
    store.write_trials(db, rows[:3])
    assert count(db) == (8, 8)
    con = store.connect(db)
    assert store.done_ids(con, "s") == {r["trial_id"] for r in rows}
    assert store.done_ids(con, "other") == set()
    con.close()


def test_bad_rows_are_rejected_and_nothing_is_written(tmp_path):
    db = str(tmp_path / "r.db")
    rows = make_rows(2)
    with pytest.raises(ValueError, match="status"):
        store.write_trials(db, [rows[0], dict(rows[1], status="weird")])
    assert count(db) == (0, 0)


def test_load_has_the_columns_analysis_reads(tmp_path):
    db = str(tmp_path / "r.db")
    store.write_trials(db, make_rows(6) + make_rows(4, space="RegNetX"))
    df = store.load(db)
    needed = ["trial_id", "sweep", "space", "spec_id", "spec", "regime", "dataset", "seed", "status", "error",
              "train_loss", "epochs", "seconds", "images_per_s", "flops", "params", "acts", "cx_train", "widths",
              "depths", "bottleneck_ratios", "group_widths", "w1", "w4", "d1", "d4", "b1", "b4", "g1", "g4",
              "se_ratio", "num_stages", "d", "w0", "wa", "wm", "family"]
    missing = [c for c in needed if c not in df.columns]
    assert not missing, missing
    assert len(df) == 10 and set(df["space"]) == {"AnyNetXA", "RegNetX"}
    rx = df[df["space"] == "RegNetX"]
    assert rx["w0"].notna().all() and df[df["space"] == "AnyNetXA"]["w0"].isna().all()
    assert (df["d"] == df["depths"].map(sum)).all() and "depth" not in df  # one total-depth column


def test_reader_during_writes(tmp_path):
    """A second connection reads consistent snapshots while another writes row by row (WAL)."""
    db = str(tmp_path / "r.db")
    rows = make_rows(40)
    store.connect(db).close()
    errors, seen = [], []

    def writer():
        con = store.connect(db)
        for r in rows:
            store.write_trial(con, r)
        con.close()

    t = threading.Thread(target=writer)
    t.start()
    while t.is_alive():
        try:
            seen.append(len(store.load(db)))
            store.summary(db)
        except Exception as exc:  # any reader failure fails the test
            errors.append(exc)
    t.join()
    assert not errors
    assert seen == sorted(seen)  # never goes backwards
    assert len(store.load(db)) == 40


def test_export_parquet_and_csv(tmp_path):
    db = str(tmp_path / "r.db")
    store.write_trials(db, make_rows(5))
    store.export(db, str(tmp_path / "r.parquet"))
    store.export(db, str(tmp_path / "r.csv"))
    pq = pd.read_parquet(tmp_path / "r.parquet")
    csv = pd.read_csv(tmp_path / "r.csv")
    assert len(pq) == len(csv) == 5
    assert list(pq["widths"].iloc[0]) == json.loads(csv["widths"].iloc[0])
    with pytest.raises(UsageError):
        store.export(db, str(tmp_path / "r.xlsx"))


def test_summary_counts(tmp_path):
    db = str(tmp_path / "r.db")
    con = store.connect(db)
    store.record_sweep(con, "s", {"name": "s"}, 12)
    con.close()
    store.write_trials(db, make_rows(8))
    (sw,) = store.summary(db)
    assert (sw["planned"], sw["stored"], sw["done"], sw["failed"], sw["diverged"]) == (12, 8, 4, 2, 2)
    (sp,) = sw["spaces"]
    assert sp["best_error"] == 50.0 and sp["median_error"] == pytest.approx((50 + 51 + 54 + 55) / 4)


def test_missing_or_foreign_store(tmp_path):
    with pytest.raises(UsageError, match="no result store"):
        store.load(str(tmp_path / "nope.db"))
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not sqlite" * 100)
    with pytest.raises(UsageError, match="not a designspace result store"):
        store.summary(str(bad))


def test_specs_parsed_in_chunks_in_an_executor_give_the_same_table(tmp_path, monkeypatch):
    """flatten_specs with an executor parses the specs in chunks there: the same columns, values and
    order as one pass here, also where only some chunks hold RegNet parameters (w0, wa, wm)."""
    from concurrent.futures import ThreadPoolExecutor

    from designspace.analysis.synthetic import write_synthetic_store
    from designspace.store import views

    db = str(tmp_path / "r.db")
    write_synthetic_store(db, spaces=("AnyNetXA", "RegNetX"), n=9, seed=1)
    here = views.load(db)
    monkeypatch.setattr(views, "PARALLEL_MIN_SPECS", 1)
    with ThreadPoolExecutor(2) as pool:
        chunked = views.load(db, executor=pool)
    pd.testing.assert_frame_equal(here, chunked)
    assert {"w0", "wa", "wm"} <= set(chunked) and chunked["w0"].isna().sum() == 9


def _same(a, b) -> bool:
    """Equal values of the same Python types (lists compared item by item; NaN equals NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return (a != a and b != b) or a == b


def test_arrow_spec_parsing_gives_what_json_loads_gives_or_declines():
    """Arrow's JSON reader parses many spec texts (store.views.spec_columns_arrow): where it answers,
    every column holds the same values of the same Python types as the one-by-one json.loads path;
    where it could differ (a decimal field written as an integer in some specs, a text spanning
    lines, a null RegNet parameter, specs given as dicts, stages Arrow cannot type) it declines."""
    import json

    from designspace.spaces import get_space
    from designspace.store import views

    specs = []
    for k, space in enumerate(("AnyNetXA", "AnyNetXE", "RegNetX", "RegNetY", "ResNetC32+csp_csp", "ResNetC4+ode_rk4")):
        specs += [s.to_json() for s in get_space(space).sample(12, seed=k, flops=(1e6, 2e9), regime="fashion-mnist")]
    cols = views.spec_columns_arrow(specs)
    assert cols is not None, "canonical specs of built-in spaces and families should take the Arrow path"
    expected = views.spec_columns(specs)
    assert list(cols) == list(expected)
    for key in expected:
        assert _same(cols[key], expected[key]), key
    assert any(cols["family"]) and any(v == v for v in cols["w0"])  # the mix this test is about

    def with_first(field, value):
        d = json.loads(specs[0])
        d["stages"][0][field] = value
        return [json.dumps(d), *specs[1:]]

    assert views.spec_columns_arrow(with_first("bottleneck_ratio", 4)) is None  # 4 beside 4.0 elsewhere
    assert views.spec_columns_arrow(with_first("width", 64.0)) is None
    assert views.spec_columns_arrow([json.dumps(json.loads(specs[0]), indent=1), *specs[1:]]) is None
    regnet = json.loads(specs[30])
    regnet["meta"]["w0"] = None
    assert views.spec_columns_arrow([*specs[:30], json.dumps(regnet), *specs[31:]]) is None
    assert views.spec_columns_arrow([json.loads(s) for s in specs]) is None
    no_stages = json.loads(specs[0]) | {"stages": []}
    assert views.spec_columns_arrow([json.dumps(no_stages)] * 3) is None


def test_flatten_specs_is_the_same_table_through_arrow(tmp_path, monkeypatch):
    from designspace.analysis.synthetic import write_synthetic_store
    from designspace.store import views

    db = str(tmp_path / "r.db")
    write_synthetic_store(db, spaces=("AnyNetXB", "RegNetX"), n=15, seed=2)
    monkeypatch.setattr(views, "ARROW_MIN_SPECS", 10**9)
    here = views.load(db)
    monkeypatch.setattr(views, "ARROW_MIN_SPECS", 1)
    pd.testing.assert_frame_equal(here, views.load(db))


def test_arrow_stage_columns_match_the_lists_across_stage_counts(monkeypatch):
    """Through Arrow, the stage columns (w1.., d1.., b1.., g1.., num_stages, d) are computed per array:
    the same table as from the lists, integer where every model has the stage, float with NaN past
    a model's last stage where some have fewer stages (3-stage ResNets beside 4-stage AnyNets)."""
    from designspace.spaces import get_space
    from designspace.store import views

    specs = []
    for k, space in enumerate(("AnyNetXA", "RegNetX", "ResNetC32+csp_csp", "ResNetC4+ode_rk4")):
        specs += [s.to_json() for s in get_space(space).sample(8, seed=k, flops=(1e6, 2e9), regime="fashion-mnist")]
    df = pd.DataFrame({"trial_id": [f"t{i}" for i in range(len(specs))], "spec": specs})
    monkeypatch.setattr(views, "ARROW_MIN_SPECS", 10**9)
    here = views.flatten_specs(df)
    monkeypatch.setattr(views, "ARROW_MIN_SPECS", 1)
    assert views._arrow_spec_columns(specs) is not None  # the Arrow path is the one compared
    arrow = views.flatten_specs(df)
    pd.testing.assert_frame_equal(here, arrow, check_exact=True)
    assert arrow["w1"].dtype == "int64" and arrow["b1"].dtype == "float64"
    assert arrow["w4"].dtype == "float64" and arrow["w4"].isna().sum() == 16 and arrow["num_stages"].min() == 3
