"""Sweeps that can be left running: trial identity covers the dataset (options and files), the plan
is stored and a changed config is refused with the change named, --retry-failed after a timeout,
exit status 1 on failures, per-epoch rows, checkpoints `deploy` reads, resources that no node has,
and `--address auto` never joining this program's private cluster. One private Ray for the module."""
import gzip
import hashlib
import os
import sqlite3
import struct
import time

import numpy as np
import pytest
import yaml

from designspace import store
from designspace.cli import main as cli
from designspace.errors import UsageError
from designspace.sweep import parse_config, plan_trials, resolve_address, run_sweep

TINY = {"spaces": ["RegNetX"], "models_per_space": 2, "flops": "0.2M:1M",
        "dataset": {"name": "synthetic", "train_size": 128, "test_size": 64}, "recipe": {"epochs": 1, "batch_size": 64}}


def write_config(tmp_path, name="t", file=None, **changes):
    raw = {**TINY, "name": name, "store": str(tmp_path / "results.db"), **changes}
    path = tmp_path / (file or f"{name}.yaml")
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def rows(db, sweep=None):
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    q = "SELECT * FROM trials" + (" WHERE sweep = ?" if sweep else "") + " ORDER BY trial_id"
    out = [dict(r) for r in con.execute(q, (sweep,) if sweep else ())]
    con.close()
    return out


def db_digest(db):
    """The store's logical content (tables and rows), which a refused run must leave as it was."""
    con = sqlite3.connect(db)
    body = []
    for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"):
        body.append((table, sorted(map(repr, con.execute(f"SELECT * FROM {table}").fetchall()))))
    con.close()
    return hashlib.sha256(repr(body).encode()).hexdigest()


def write_idx(directory, seed=0):
    rng = np.random.default_rng(seed)
    os.makedirs(directory, exist_ok=True)
    for prefix, n in (("train", 96), ("t10k", 48)):
        for kind, shape in (("images-idx3", (n, 28, 28)), ("labels-idx1", (n,))):
            arr = rng.integers(0, 10 if kind.startswith("labels") else 256, shape).astype(np.uint8)
            with gzip.open(os.path.join(directory, f"{prefix}-{kind}-ubyte.gz"), "wb") as fh:
                fh.write(struct.pack(">BBBB", 0, 0, 8, arr.ndim) + struct.pack(f">{arr.ndim}i", *arr.shape)
                         + arr.tobytes())


def test_ids_cover_dataset_options_and_files(tmp_path):
    base = {**TINY, "name": "t", "store": str(tmp_path / "r.db")}
    def ids(**ch):
        return [t["trial_id"] for t in plan_trials(parse_config({**base, **ch}))]
    a = ids()
    assert a == ids()
    assert not set(a) & set(ids(dataset={**TINY["dataset"], "train_size": 256}))
    assert not set(a) & set(ids(dataset={**TINY["dataset"], "noise": 0.5}))
    assert set(a) == set(ids(resources={"cpus": 2}, timeout=5, max_retries=3))  # result-neutral settings
    fm = {"name": "fashion-mnist", "dir": str(tmp_path / "fm")}
    write_idx(tmp_path / "fm", seed=0)
    first = ids(dataset=fm, regime="fashion-mnist")
    write_idx(tmp_path / "fm", seed=1)  # same file names and sizes, other pixels
    assert not set(first) & set(ids(dataset=fm, regime="fashion-mnist"))


def test_changed_config_is_refused_naming_the_change_then_new_plan(ray_cluster, tmp_path, capsys):
    path = write_config(tmp_path)
    db = str(tmp_path / "results.db")
    assert cli(["sweep", path, "--no-progress"]) == 0
    first = rows(db, "t")
    assert len(first) == 2
    recorded = store.get_sweep(store.connect(db, create=False), "t")
    assert set(recorded["plan"]) == {r["trial_id"] for r in first}
    assert recorded["identity"]["dataset"]["train_size"] == 128 and "RegNetX" in recorded["spaces"]
    capsys.readouterr()

    changed = write_config(tmp_path, file="changed.yaml", dataset={**TINY["dataset"], "train_size": 256})
    digest = db_digest(db)
    assert cli(["sweep", changed, "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "dataset.train_size: 128 -> 256" in err and "--new-plan" in err and len(err.splitlines()) == 1
    assert db_digest(db) == digest

    # Settings that do not change results may change: nothing to do, exit 0.
    neutral = write_config(tmp_path, file="neutral.yaml", timeout=600, resources={"cpus": 1}, max_retries=2)
    assert cli(["sweep", neutral, "--no-progress"]) == 0
    assert "all 2 trials already in" in capsys.readouterr().err

    assert cli(["sweep", changed, "--no-progress", "--new-plan"]) == 0
    assert "kept as sweep t~1" in capsys.readouterr().err
    assert rows(db, "t~1") == [dict(r, sweep="t~1") for r in first]  # the old plan's rows, intact, aside
    new = rows(db, "t")
    assert len(new) == 2 and not {r["trial_id"] for r in new} & {r["trial_id"] for r in first}
    assert all(r["extra"] and '"train_size": 256' in r["extra"] for r in new)


def test_timeout_then_retry_failed(ray_cluster, tmp_path, capsys):
    slow = {**TINY["recipe"], "epochs": 10}
    path = write_config(tmp_path, name="slow", recipe=slow, timeout=0.05)
    db = str(tmp_path / "results.db")
    assert cli(["sweep", path, "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "2 trial(s) failed or timed out" in err and "timeout" in err
    got = rows(db, "slow")
    assert [r["status"] for r in got] == ["timeout", "timeout"]
    assert all(r["epochs"] is None or r["epochs"] < 10 for r in got)
    # Rerun without --retry-failed: nothing is trained, still exit 1, pointing at --retry-failed.
    assert cli(["sweep", path, "--no-progress"]) == 1
    assert "--retry-failed" in capsys.readouterr().err and rows(db, "slow") == got
    # Raise the timeout (result-neutral) and retry: done rows, two real attempts each.
    longer = write_config(tmp_path, name="slow", file="longer.yaml", recipe=slow, timeout=600)
    t0 = time.time()
    assert cli(["sweep", longer, "--no-progress", "--retry-failed"]) == 0
    after = rows(db, "slow")
    assert [r["status"] for r in after] == ["done", "done"] and [r["attempts"] for r in after] == [2, 2]
    assert all(r["epochs"] == 10 for r in after) and time.time() - t0 < 300
    epochs = store.load_epochs(db, "slow")
    assert len(epochs) == 20 and sorted(set(epochs["epoch"])) == list(range(1, 11))


def test_failed_trials_exit_1_and_per_epoch_rows(ray_cluster, explode_family, tmp_path, capsys):
    # The model of RegNetX+explode carries the test plugin's explode option, whose build raises.
    path = write_config(tmp_path, name="f", spaces=["RegNetX", "RegNetX+explode"], models_per_space=1,
                        recipe={"epochs": 3, "batch_size": 32}, checkpoints=True)
    db = str(tmp_path / "results.db")
    assert cli(["sweep", path, "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "1 trial(s) failed" in err and "RuntimeError: explode family" in err
    got = {r["status"]: r for r in rows(db, "f")}
    assert set(got) == {"done", "failed"} and got["done"]["attempts"] == 1
    assert (got["done"]["space"], got["failed"]["space"]) == ("RegNetX", "RegNetX+explode")
    ep = store.load_epochs(db, "f")
    assert ep["epoch"].tolist() == [1, 2, 3] and set(ep["trial_id"]) == {got["done"]["trial_id"]}
    assert ep["test_error"].iloc[-1] == pytest.approx(got["done"]["error"])
    assert (ep["lr"].diff().dropna() < 0).all() and (ep["seconds"] > 0).all() and ep["train_loss"].notna().all()
    # The checkpoint of the finished trial loads into its model (the file `deploy` reads).
    from designspace.deploy import load_checkpoint

    ckpt = tmp_path / "checkpoints" / "f" / f"{got['done']['trial_id']}.pt"
    model, spec, regime, _ = load_checkpoint(str(ckpt))
    assert spec.id == got["done"]["spec_id"] and regime == "fashion-mnist"
    assert not (tmp_path / "checkpoints" / "f" / f"{got['failed']['trial_id']}.pt").exists()


def test_resources_no_node_has_fail_at_once(ray_cluster, tmp_path, capsys):
    for resources, needle in (({"cpus": 1, "gpus": 1}, "gpus=1"), ({"cpus": 64}, "cpus=64")):
        path = write_config(tmp_path, name="big", file=f"big{len(needle)}.yaml", resources=resources)
        t0 = time.time()
        assert cli(["sweep", path, "--no-progress"]) == 2
        err = capsys.readouterr().err.strip()
        assert time.time() - t0 < 30
        assert needle in err and "no node" in err and len(err.splitlines()) == 1
        assert not os.path.exists(tmp_path / "results.db")


def test_auto_never_joins_a_private_cluster(ray_cluster, monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    private = ray_cluster.get_runtime_context().gcs_address
    try:
        found = resolve_address("auto")
    except UsageError as exc:
        assert "ray start" in str(exc)
    else:  # a `ray start` cluster of someone else on this machine: never this private one
        assert found != private


def test_runs_the_same_with_an_existing_session(ray_cluster, tmp_path):
    """run_sweep uses the running Ray session and leaves it running (the notebook case)."""
    cfg = parse_config({**TINY, "name": "nb", "store": str(tmp_path / "r.db"), "models_per_space": 1})
    counts = run_sweep(cfg, progress=False)
    assert counts["done"] == 1 and ray_cluster.is_initialized()
