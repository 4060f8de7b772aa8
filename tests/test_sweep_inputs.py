"""Bad input to sweep/train/status: one line on stderr, exit 2, and every file left exactly as it was
(no store created, a foreign SQLite file not touched, a 0-byte file not turned into a database).
Also the store's conflict rule and its driver lock, without Ray."""
import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import yaml

from designspace import store
from designspace.cli import main as cli
from designspace.errors import UsageError
from designspace.spaces import get_space

BASE = {"name": "t", "spaces": ["RegNetX"], "models_per_space": 1, "flops": "0.2M:1M",
        "dataset": {"name": "synthetic", "train_size": 64, "test_size": 32}, "recipe": {"epochs": 1}}


def snapshot(folder):
    """Every file under `folder` with its bytes' hash: what 'unchanged' means here."""
    out = {}
    for root, _, files in os.walk(folder):
        for f in files:
            path = os.path.join(root, f)
            with open(path, "rb") as fh:
                out[os.path.relpath(path, folder)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def one_line_exit_2(argv, capsys, needle):
    assert cli(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert needle in err, err
    return err


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


def config_text(tmp_path, **changes):
    raw = {**BASE, "store": str(tmp_path / "r.db"), **changes}
    return yaml.safe_dump({k: v for k, v in raw.items() if v is not None})


ALIAS_BOMB = ("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
              "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n")

SWEEP_CASES = {
    "binary config": (b"\x89PNG\r\n\x1a\n\0\0\0binary", "not UTF-8"),
    "NUL in the text": ("name: t\0x\n", "binary"),
    "seed 2**80": ({"seed": 2**80}, "seed"),
    "seed 2**80 as text": ("{base}seed: 2**80\n", "seed"),
    "name ..": ({"name": ".."}, "name"),
    "name with a slash": ({"name": "../../etc"}, "name"),
    "NUL in a name": ({"name": "a\0b"}, "name"),
    "epochs .inf": ("{base}recipe: {{epochs: .inf}}\n", "recipe.epochs"),
    "lr .nan": ("{base}recipe: {{lr: .nan}}\n", "recipe.lr"),
    "batch_size 1e9": ({"recipe": {"batch_size": 10**9}}, "recipe.batch_size"),
    "recipe train_size 1e9": ({"recipe": {"train_size": 10**9}}, "recipe.train_size"),
    "synthetic train_size 1e9": ({"dataset": {"name": "synthetic", "train_size": 10**9}}, "train_size"),
    "synthetic image_size 1e6": ({"dataset": {"name": "synthetic", "image_size": 10**6}}, "image_size"),
    "alias bomb under flops": (ALIAS_BOMB + "{base}flops: *d\n", "alias"),
    "models_per_space 1e12": ({"models_per_space": 10**12}, "models_per_space"),
    "timeout .inf": ("{base}timeout: .inf\n", "timeout"),
    "timeout -1": ({"timeout": -1}, "timeout"),
    "cpus .nan": ("{base}resources: {{cpus: .nan}}\n", "resources.cpus"),
    "checkpoints yes-string": ({"checkpoints": "yes"}, "checkpoints"),
    "spaces: a number": ({"spaces": [3]}, "spaces"),
    "store under a file": ({"store": "{tmp}/afile/sub/r.db"}, "is a file"),
    "store is a folder": ({"store": "{tmp}"}, "directory"),
}


@pytest.mark.parametrize("case", list(SWEEP_CASES))
def test_bad_sweep_input_is_one_line_exit_2_and_changes_nothing(tmp_path, capsys, case):
    content, needle = SWEEP_CASES[case]
    (tmp_path / "afile").write_text("a file, not a folder")
    base = config_text(tmp_path)
    if isinstance(content, dict):
        content = yaml.safe_dump({**yaml.safe_load(base), **{
            k: (v.format(tmp=tmp_path) if isinstance(v, str) else v) for k, v in content.items()}})
    elif isinstance(content, str):
        content = content.format(base=base)
    path = write(tmp_path, "cfg.yaml", content)
    before = snapshot(tmp_path)
    one_line_exit_2(["sweep", path], capsys, needle)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("flag, value", [("--cpus-per-trial", "nan"), ("--cpus-per-trial", "inf"),
                                         ("--gpus-per-trial", "nan"), ("--gpus-per-trial", "-1"),
                                         ("--timeout", "nan"), ("--timeout", "0")])
def test_bad_sweep_flags(tmp_path, capsys, flag, value):
    path = write(tmp_path, "cfg.yaml", config_text(tmp_path))
    before = snapshot(tmp_path)
    one_line_exit_2(["sweep", path, flag, value], capsys, flag)
    assert snapshot(tmp_path) == before


def spec_json(**stage):
    return '{"stages": [{' + ", ".join(f'"{k}": {v}' for k, v in stage.items()) + '}]}'


TRAIN_CASES = {
    "binary spec": (b"\x00\x01\x02\xff\xfe garbage", "binary file"),
    "stages abc": ('{"stages": "abc"}', "spec"),
    "stages of numbers": ('{"stages": [1, 2]}', "spec"),
    "width 1e9": (spec_json(depth=1, width=10**9), "width"),
    "depth 1e6": (spec_json(depth=10**6, width=64), "depth"),
    "groups do not divide": (spec_json(depth=1, width=50, group_width=8), "group_width"),
    "not json": ("{nope", "spec"),
}


@pytest.mark.parametrize("case", list(TRAIN_CASES))
def test_bad_train_spec_is_one_line_exit_2(tmp_path, capsys, case):
    content, needle = TRAIN_CASES[case]
    path = write(tmp_path, "spec.json", content)
    before = snapshot(tmp_path)
    one_line_exit_2(["train", path, "--data", "synthetic", "--epochs", "1"], capsys, needle)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("argv, needle", [
    (["--epochs", "inf"], "recipe.epochs"), (["--epochs", "nan"], "recipe.epochs"),
    (["--batch-size", "1000000000"], "recipe.batch_size"), (["--train-size", "1000000000"], "recipe.train_size"),
    (["--seed", "-1"], "--seed"), (["--seed", str(2**80)], "--seed"),
])
def test_bad_train_flags(tmp_path, capsys, argv, needle):
    spec = get_space("RegNetX").sample(1, seed=0, flops="0.2M:1M", regime="fashion-mnist")[0]
    path = write(tmp_path, "spec.json", spec.to_json())
    one_line_exit_2(["train", path, "--data", "synthetic", *argv], capsys, needle)


# --- the store refuses files it does not own, and readers write nothing ---
def foreign_db(path):
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    con.execute("INSERT INTO customers (name) VALUES ('ada')")
    con.commit()
    con.close()


@pytest.mark.parametrize("kind", ["foreign sqlite", "zero bytes", "text file"])
def test_status_and_sweep_leave_other_files_alone(tmp_path, capsys, kind):
    db = tmp_path / "other.db"
    if kind == "foreign sqlite":
        foreign_db(str(db))
    elif kind == "zero bytes":
        db.write_bytes(b"")
    else:
        db.write_text("hello\n" * 100)
    before = snapshot(tmp_path)
    one_line_exit_2(["status", str(db)], capsys, "not a designspace result store")
    assert snapshot(tmp_path) == before
    if kind != "zero bytes":  # a 0-byte store path is a new store to a sweep (nothing to lose)
        path = write(tmp_path, "cfg.yaml", config_text(tmp_path, store=str(db)))
        before = snapshot(tmp_path)
        one_line_exit_2(["sweep", path], capsys, "not a designspace result store")
        assert snapshot(tmp_path) == before
    with pytest.raises(UsageError):
        store.connect(str(db)) if kind != "zero bytes" else store.load(str(db))
    if kind == "foreign sqlite":  # still its own journal mode and contents
        con = sqlite3.connect(str(db))
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert con.execute("SELECT name FROM sqlite_master").fetchall() == [("customers",)]
        con.close()


def make_rows(n, sweep="s"):
    specs = get_space("RegNetX").sample(n, seed=0, flops="0.2M:1M", regime="fashion-mnist")
    return [{"trial_id": store.trial_id(s.id, {"sweep": sweep}, 0), "sweep": sweep, "space": "RegNetX",
             "spec_id": s.id, "spec": s.to_json(), "status": "done", "error": 10.0 + i,
             "per_epoch": [{"epoch": 1, "train_loss": 1.0, "test_error": 10.0 + i, "lr": 0.1, "seconds": 1.0}]}
            for i, s in enumerate(specs)]


def test_readers_create_and_change_no_file(tmp_path, capsys):
    db = str(tmp_path / "r.db")
    store.write_trials(db, make_rows(3))
    before = snapshot(tmp_path)
    mtimes = {f: os.stat(tmp_path / f).st_mtime_ns for f in before}
    assert cli(["status", db]) == 0
    assert len(store.load(db)) == 3 and len(store.load_epochs(db)) == 3
    assert snapshot(tmp_path) == before
    assert {f: os.stat(tmp_path / f).st_mtime_ns for f in before} == mtimes


def test_finished_rows_are_never_replaced(tmp_path):
    db = str(tmp_path / "r.db")
    done, other = make_rows(2)
    assert store.write_trials(db, [done]) == 1
    # Another attempt (a second driver, a late retry) of a finished trial changes nothing.
    assert store.write_trials(db, [dict(done, status="failed", error=None, message="late")]) == 0
    assert store.write_trials(db, [dict(done, error=99.0)]) == 0
    df = store.load(db)
    assert df["error"].tolist() == [10.0] and df["attempts"].tolist() == [1]
    # A failed row is replaced by its retry, and the attempts add up.
    store.write_trials(db, [dict(other, status="timeout", error=None, per_epoch=[])])
    assert store.write_trials(db, [dict(other, attempts=1)]) == 1
    row = store.load(db).set_index("trial_id").loc[other["trial_id"]]
    assert row["status"] == "done" and row["attempts"] == 2
    assert len(store.load_epochs(db)) == 2


LOCK_HOLDER = """
import sys, time
from designspace import store
con = store.connect(sys.argv[1])
store.acquire_lock(con, "t", sys.argv[1])
print("locked", flush=True)
time.sleep(120)
"""


def test_second_driver_is_refused_and_a_killed_one_leaves_no_stale_lock(tmp_path, capsys):
    db = str(tmp_path / "r.db")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, db], stdout=subprocess.PIPE, env=env)
    try:
        assert holder.stdout.readline().strip() == b"locked"
        path = write(tmp_path, "cfg.yaml", config_text(tmp_path))
        before = store.load(db)
        err = one_line_exit_2(["sweep", path], capsys, "another driver")
        assert f"pid {holder.pid}" in err
        assert store.load(db).equals(before)
        con = store.connect(db)
        with pytest.raises(UsageError, match="another driver"):
            store.acquire_lock(con, "t", db)
        store.acquire_lock(con, "other-sweep", db)  # other sweeps of the store are free
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        store.acquire_lock(con, "t", db)  # the dead driver's lock is stale: taken over
        assert store.lock_holder(con, "t")["pid"] == os.getpid()
        store.release_lock(con, "t")
        assert store.lock_holder(con, "t") is None
        con.close()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        holder.stdout.close()


def test_lock_of_a_reused_pid_is_stale(tmp_path):
    """A lock whose pid now belongs to another process (start time differs) is stale."""
    db = str(tmp_path / "r.db")
    con = store.connect(db)
    with con:
        con.execute("INSERT INTO drivers (sweep, host, pid, pid_start, started_at, heartbeat_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    ("t", __import__("socket").gethostname(), os.getpid(), "1", time.time(), time.time()))
    assert store.lock_holder(con, "t") is None
    with con:
        con.execute("UPDATE drivers SET host = 'elsewhere', heartbeat_at = ?", (time.time(),))
    assert store.lock_holder(con, "t")["host"] == "elsewhere"  # another host: alive while it beats
    with con:
        con.execute("UPDATE drivers SET heartbeat_at = ?", (time.time() - 2 * store.LOCK_STALE_S,))
    assert store.lock_holder(con, "t") is None
    con.close()
