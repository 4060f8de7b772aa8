"""kill -9 of a running sweep, then the same command again: exactly the planned rows, no duplicate
trial ids, every row stored before the kill unchanged. Real subprocesses, real Ray, real SQLite."""
import os
import signal
import sqlite3
import subprocess
import sys
import time

import yaml

from designspace.cli import main as cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLANNED = 10


def read_rows(db):
    con = sqlite3.connect(db, timeout=30)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute("SELECT * FROM trials")]
    except sqlite3.OperationalError:  # the sweep has not created the table yet
        return []
    finally:
        con.close()


def test_kill_minus_9_then_rerun_resumes_exactly(tmp_path, capsys):
    db = str(tmp_path / "results.db")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({
        "name": "killed", "store": db, "spaces": ["AnyNetXA", "RegNetX"], "models_per_space": PLANNED // 2,
        "flops": "0.2M:1M", "dataset": {"name": "synthetic", "train_size": 256, "test_size": 128},
        "recipe": {"epochs": 1, "batch_size": 64},
    }))
    cmd = [sys.executable, "-m", "designspace", "sweep", str(cfg), "--no-progress"]
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 180
        before = []
        while time.time() < deadline and proc.poll() is None:
            before = read_rows(db)
            if before:
                break
            time.sleep(0.2)
        assert before, f"no row stored before the deadline; stderr: {proc.stderr.read().decode()[-2000:]}"
        # `status` reads the store while the sweep is writing it.
        assert cli(["status", db]) == 0
        assert f"of {PLANNED} planned" in capsys.readouterr().out
        before = read_rows(db)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert 1 <= len(before) < PLANNED, "the sweep finished before the kill: nothing left to resume"
    time.sleep(1.0)
    after_kill = read_rows(db)
    stored_at_kill = {r["trial_id"]: r for r in after_kill}

    rerun = subprocess.run(cmd + ["--resume"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    final = read_rows(db)
    ids = [r["trial_id"] for r in final]
    assert len(final) == PLANNED and len(set(ids)) == PLANNED
    by_id = {r["trial_id"]: r for r in final}
    for tid, row in stored_at_kill.items():
        assert by_id[tid] == row, "a row stored before the kill changed"
    assert all(r["status"] == "done" for r in final)
    assert f"{len(stored_at_kill)} already stored" in rerun.stderr

    # And once more: nothing left to do, nothing changes.
    third = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert third.returncode == 0 and "already in" in third.stderr
    assert read_rows(db) == final
