"""`designspace analyze` on what a user brings: several stores and tables at once, its own
data/models.csv, nds's released JSON files; and reading a store leaves no file beside it."""
import contextlib
import json
import os
import sqlite3

import numpy as np
import pytest

from designspace.analysis.population import model_table, read_population
from designspace.analysis.synthetic import synthetic_trials
from designspace.cli import main
from designspace.complexity import complexity
from designspace.regimes import get_regime
from designspace.spaces import get_space
from designspace.store import connect, trial_id, write_trials
from designspace.table import spec_rows, write_rows

BOOT = ["--bootstrap", "20"]


def one_line_exit_2(argv, capsys, needle):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0] and "Traceback" not in err[0], err


def store_with(path, space, sweep, recipe, n=24, seed=0):
    rows = synthetic_trials(spaces=(space,), n=n, seed=seed, sweep=sweep)
    write_trials(path, [dict(r, recipe=recipe, trial_id=trial_id(r["spec_id"], recipe, seed)) for r in rows])
    return path


def table_of(path, space="RegNetY", n=24, seed=3, shift=0.0):
    """`designspace sample`'s columns plus error: a table from elsewhere."""
    regime = get_regime("fashion-mnist")
    specs = get_space(space).sample(n, seed=seed, regime=regime)
    rng = np.random.default_rng(seed)
    rows = [dict(r, error=float(12 + shift + rng.normal()))
            for r in spec_rows(specs, complexity(specs, regime), regime.name)]
    write_rows(rows, path)
    return path


def summary_of(out):
    with open(os.path.join(out, "summary.json")) as fh:
        return json.load(fh)


def test_two_stores_of_different_recipes_and_a_table(tmp_path, capsys):
    """The issue's `analyze A.db B.db mine.csv`: the table's rows have no sweep, which made their
    population labels NaN (KeyError: 'nan' in the e_fit figure) once the stores' recipes differed."""
    a = store_with(str(tmp_path / "A.db"), "AnyNetXA", "short", {"epochs": 1})
    b = store_with(str(tmp_path / "B.db"), "RegNetX", "long", {"epochs": 2}, seed=1)
    mine = table_of(str(tmp_path / "mine.csv"))
    trials = read_population([a, b, mine])
    assert trials["population"].notna().all()
    assert set(trials["population"]) == {"A:AnyNetXA", "B:RegNetX", "mine:RegNetY"}
    out = str(tmp_path / "rep")
    assert main(["analyze", a, b, mine, "--out", out, *BOOT]) == 0
    summary = summary_of(out)
    assert {r["population"] for r in summary["ranking"]} == {"A:AnyNetXA", "B:RegNetX", "mine:RegNetY"}
    assert summary["n_models"] == 72
    assert "efit.png" in summary["figures"] and os.path.getsize(os.path.join(out, "efit.png")) > 1000


def test_any_mix_of_stores_and_tables(tmp_path, capsys):
    """A store holding two sweeps side by side, a parquet and a jsonl table; the sweeps are told
    apart within their store, the tables by their names."""
    db = str(tmp_path / "two.db")
    store_with(db, "AnyNetXE", "proxy", {"epochs": 1})
    store_with(db, "AnyNetXE", "full", {"epochs": 4}, seed=0)
    pq = table_of(str(tmp_path / "theirs.parquet"), space="AnyNetXA", seed=5, shift=2.0)
    jl = table_of(str(tmp_path / "RegNetY.jsonl"), space="RegNetY", seed=6)
    trials = read_population([db, pq, jl], sweeps=["proxy", "full"])
    # a table named after its space is labelled by the space alone
    assert set(trials["population"]) == {"two/proxy:AnyNetXE", "two/full:AnyNetXE", "theirs:AnyNetXA", "RegNetY"}
    out = str(tmp_path / "rep")
    assert main(["analyze", db, pq, jl, "--sweep", "proxy", "--sweep", "full", "--out", out, *BOOT]) == 0
    summary = summary_of(out)
    assert len(summary["ranking"]) == 4 and summary["n_models"] == 96
    assert summary["ranking"][-1]["population"] == "theirs:AnyNetXA"  # shifted 2 points up


def test_models_csv_reads_back_into_analyze(tmp_path, capsys):
    """data/models.csv, written by analyze, is a table analyze accepts: the same models, labels and errors."""
    a = store_with(str(tmp_path / "A.db"), "AnyNetXA", "s", {"epochs": 1})
    b = store_with(str(tmp_path / "B.db"), "RegNetX", "s", {"epochs": 1}, seed=1)
    first = str(tmp_path / "first")
    assert main(["analyze", a, b, "--out", first, *BOOT]) == 0
    models_csv = os.path.join(first, "data", "models.csv")
    again = str(tmp_path / "again")
    assert main(["analyze", models_csv, "--out", again, *BOOT]) == 0
    one, two = summary_of(first), summary_of(again)
    assert two["n_models"] == one["n_models"] == 48
    rank = {r["population"]: r for r in one["ranking"]}
    rank2 = {r["population"]: r for r in two["ranking"]}
    assert set(rank2) == set(rank) == {"A:AnyNetXA", "B:RegNetX"}
    for name, r in rank.items():
        assert rank2[name]["median"] == pytest.approx(r["median"], abs=1e-9)
        assert rank2[name]["n"] == r["n"]
    # the stages came back too: e_fit recomputed from them equals the first run's
    e1 = {e["population"]: e["median"] for e in one["efit"]}
    e2 = {e["population"]: e["median"] for e in two["efit"]}
    assert e2 == pytest.approx(e1, rel=1e-9)


def listing(folder):
    return sorted(os.listdir(folder))


def digest(path):
    with open(path, "rb") as fh:
        return fh.read()


def test_analyze_creates_no_file_beside_a_store(tmp_path, capsys):
    folder = tmp_path / "share"
    folder.mkdir()
    db = str(folder / "results.db")
    write_trials(db, synthetic_trials(spaces=("AnyNetXA", "RegNetX"), n=20, seed=0))
    with contextlib.closing(connect(db)) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # a store is a WAL database
    before, content = listing(folder), digest(db)
    assert before == ["results.db"]
    assert main(["analyze", db, "--out", str(tmp_path / "rep"), *BOOT]) == 0
    assert listing(folder) == before and digest(db) == content
    assert main(["status", db]) == 0 and listing(folder) == before


def test_analyze_while_a_writer_holds_the_store_open(tmp_path, capsys):
    folder = tmp_path / "running"
    folder.mkdir()
    db = str(folder / "results.db")
    writer = connect(db)  # a sweep's connection: WAL mode, -wal and -shm beside the store
    try:
        write_trials(writer, synthetic_trials(spaces=("AnyNetXE",), n=20, seed=0))
        write_trials(writer, synthetic_trials(spaces=("RegNetX",), n=20, seed=1))
        before, content = listing(folder), digest(db)
        assert set(before) == {"results.db", "results.db-wal", "results.db-shm"}
        assert main(["analyze", db, "--out", str(tmp_path / "rep"), *BOOT]) == 0
        assert summary_of(str(tmp_path / "rep"))["n_models"] == 40  # it saw the rows still in the WAL
        assert listing(folder) == before and digest(db) == content
        write_trials(writer, synthetic_trials(spaces=("AnyNetXA",), n=5, seed=2))  # the writer goes on
    finally:
        writer.close()


# --- nds's released format -------------------------------------------------------------------

def nds_records(space="AnyNetXA", n=30, seed=0, shift=0.0, groups_as="num_gs"):
    """Records as nds's data/<Space>.json holds them (fields its notebooks read), for models
    sampled from one of our spaces at the CIFAR regime."""
    regime = get_regime("cifar")
    specs = get_space(space).sample(n, seed=seed, regime=regime)
    cx = complexity(specs, regime)
    rng = np.random.default_rng(seed)
    out = []
    for k, (s, f, p) in enumerate(zip(specs, cx["flops"], cx["params"])):
        curve = sorted(rng.uniform(6, 14, 5) + shift, reverse=True)
        curve[-1] = curve[-2] + 0.5  # the last epoch is not the best: min_test_top1 != test_ep_top1[-1]
        net = {"block_type": "res_bottleneck_block", "stem_type": "simple_stem_in", "stem_w": 16,
               "ds": s.depths, "ws": s.widths, "ss": s.strides, "bot_muls": [1 / b for b in s.bottleneck_ratios]}
        if groups_as == "num_gs":
            net["num_gs"] = [int(round(w / b)) // g for w, b, g in zip(s.widths, s.bottleneck_ratios, s.group_widths)]
        else:
            net["gws"] = s.group_widths
        out.append({"job_id": k, "rng_seed": 1, "params": int(p), "flops": int(f), "act_mem": 1.0,
                    "exp_mem": 1.0, "prec_time": {"train_fw_bw": 0.01}, "iter_time": 0.02, "net": net,
                    "optim": {"base_lr": 0.1, "wd": 5e-5, "max_ep": 5, "lr_policy": "cos"},
                    "min_test_top1": float(min(curve)), "test_ep_top1": [float(c) for c in curve],
                    "train_ep_top1": [float(c) - 1 for c in curve], "train_ep_loss": [1.0] * 5})
    return out, specs


def dump(path, obj):
    with open(path, "w") as fh:
        json.dump(obj, fh)
    return str(path)


def test_nds_files_are_read_as_populations(tmp_path):
    recs_a, specs_a = nds_records("AnyNetXA", seed=0, shift=2.0)
    recs_b, specs_b = nds_records("AnyNetXE", seed=1, groups_as="gws")
    a = dump(tmp_path / "ResNeXt-A.json", recs_a)
    b = dump(tmp_path / "ResNeXt-B.json", {"top": recs_b[:10], "mid": recs_b[10:]})  # nds's two-part files
    trials = read_population([a, b])
    assert set(trials["space"]) == {"ResNeXt-A", "ResNeXt-B"} and len(trials) == 60
    first = trials[trials["space"] == "ResNeXt-A"].iloc[3]
    assert first["error"] == recs_a[3]["min_test_top1"] != recs_a[3]["test_ep_top1"][-1]
    assert first["flops"] == recs_a[3]["flops"] and first["params"] == recs_a[3]["params"]
    assert list(first["widths"]) == specs_a[3].widths and list(first["depths"]) == specs_a[3].depths
    # bottleneck multipliers and numbers of groups become the paper's b and group widths
    for k in range(30):
        row = trials[trials["space"] == "ResNeXt-A"].iloc[k]
        assert list(row["bottleneck_ratios"]) == pytest.approx(specs_a[k].bottleneck_ratios)
        assert list(row["group_widths"]) == specs_a[k].group_widths
        row_b = trials[trials["space"] == "ResNeXt-B"].iloc[k]
        assert list(row_b["group_widths"]) == specs_b[k].group_widths
    assert first["recipe"]["max_ep"] == 5 and first["regime"] == "cifar"
    models = model_table(trials)
    assert len(models) == 60


def test_analyze_runs_on_nds_files(tmp_path, capsys):
    recs_a, _ = nds_records("AnyNetXA", seed=0, shift=3.0)
    recs_b, _ = nds_records("AnyNetXE", seed=1)
    a = dump(tmp_path / "ResNeXt-A.json", recs_a)
    b = dump(tmp_path / "ResNeXt-B.json", recs_b)
    # a cell-based space (a genotype, no stages): EDFs and ranking still apply
    rng = np.random.default_rng(2)
    darts = [{"job_id": k, "rng_seed": 0, "params": int(rng.uniform(2e5, 9e5)), "flops": int(rng.uniform(2e7, 6e7)),
              "net": {"genotype": {"normal": [["sep_conv_3x3", 0]], "normal_concat": [2],
                                   "reduce": [["max_pool_3x3", 1]], "reduce_concat": [2]},
                      "width": 16 + k, "depth": 8, "aux": False},
              "optim": {"base_lr": 0.1, "wd": 5e-5, "max_ep": 5}, "test_ep_top1": [12.0, float(rng.uniform(5, 9))]}
             for k in range(30)]
    d = dump(tmp_path / "DARTS.json", darts)
    out = str(tmp_path / "rep")
    assert main(["analyze", a, b, d, "--out", out, "--normalize", "params", *BOOT]) == 0
    summary = summary_of(out)
    assert {r["population"] for r in summary["ranking"]} == {"ResNeXt-A", "ResNeXt-B", "DARTS"}
    assert summary["ranking"][-1]["population"] == "ResNeXt-A"  # 3 points worse
    darts_median = next(r["median"] for r in summary["ranking"] if r["population"] == "DARTS")
    assert darts_median == pytest.approx(float(np.median([r["test_ep_top1"][-1] for r in darts])))


@pytest.mark.parametrize("mangle, needle", [
    (lambda recs: recs[:3] + [dict(recs[3], flops="many")] + recs[4:], "record 3: `flops`"),
    (lambda recs: [dict(recs[0], min_test_top1=140.0)] + recs[1:], "record 0: the test error"),
    (lambda recs: recs[:5] + [{k: v for k, v in recs[5].items() if k not in ("min_test_top1", "test_ep_top1")}]
     + recs[6:], "record 5 has no test error"),
    (lambda recs: [dict(recs[0], net=dict(recs[0]["net"], ws=[8, 16]))] + recs[1:], "record 0: `net` needs"),
    (lambda recs: [{k: v for k, v in recs[0].items() if k != "net"}] + recs[1:], "record 0 has no `net`"),
    (lambda recs: {"top": []}, "not an nds file"),
])
def test_malformed_nds_files_are_one_line(tmp_path, capsys, mangle, needle):
    recs, _ = nds_records("AnyNetXA", n=8)
    path = dump(tmp_path / "ResNeXt-A.json", mangle(recs))
    one_line_exit_2(["analyze", path, "--out", str(tmp_path / "rep")], capsys, needle)


def test_a_json_list_of_rows_is_still_a_table(tmp_path):
    """A .json file that is not nds's (a list of sample rows) reads as a table, as JSON lines do."""
    path = str(tmp_path / "rows.jsonl")
    table_of(path, space="RegNetX", n=6)
    rows = [json.loads(line) for line in open(path)]
    listed = dump(tmp_path / "rows.json", rows)
    df = read_population([listed])
    assert len(df) == 6 and list(df["spec_id"]) == [r["id"] for r in rows]


def test_reading_store_with_sqlite_directly_is_how_a_sweep_sees_it(tmp_path):
    """The read-only open also reads a store whose WAL holds rows not yet in the main file."""
    from designspace.store import open_read_only

    db = str(tmp_path / "r.db")
    writer = connect(db)
    try:
        write_trials(writer, synthetic_trials(spaces=("RegNetX",), n=7, seed=0))
        con = open_read_only(db)
        try:
            assert con.execute("SELECT COUNT(*) FROM trials").fetchone()[0] == 7
            with pytest.raises(sqlite3.OperationalError):
                con.execute("DELETE FROM trials")
        finally:
            con.close()
    finally:
        writer.close()
