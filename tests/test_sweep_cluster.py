"""A real multi-node Ray cluster on this machine (ray.cluster_utils.Cluster: a head and worker nodes,
each its own raylet), a sweep joining it through `--address HOST:PORT` in another process, and the
worker node killed mid-sweep: the progress shows `waiting for resources`, a new node joins, and the
sweep ends with exactly the planned rows, the interrupted trial stored with attempts > 1.
Also Ctrl-C to the sweep's whole process group: a clean stop (exit 130, no Ray abort), then a resume;
Ctrl-C while Ray is still starting is not lost; and on a joined cluster, Ctrl-C frees the cluster's
CPUs at once (the trial in flight stops)."""
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLANNED = 4


def read_rows(db):
    if not os.path.exists(db):
        return []
    con = sqlite3.connect(db, timeout=30)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute("SELECT * FROM trials")]
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


def wait_for(predicate, timeout, proc=None, what=""):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        if proc is not None and proc.poll() is not None:
            return predicate()
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def sweep_config(tmp_path, name, cpus, epochs, models=PLANNED):
    db = str(tmp_path / "results.db")
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({
        "name": name, "store": db, "spaces": ["RegNetX"], "models_per_space": models, "flops": "0.2M:1M",
        "dataset": {"name": "synthetic", "train_size": 128, "test_size": 64},
        "recipe": {"epochs": epochs, "batch_size": 64}, "resources": {"cpus": cpus}, "max_retries": 2,
    }))
    return str(path), db


def interrupt(proc, timeout=60):
    """Ctrl-C as a terminal sends it (to the whole process group), then wait for the sweep to exit;
    its stderr when that was piped. Callers kill_group in a `finally`, should the wait time out."""
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=timeout)
    return (err or b"").decode(errors="replace")


def kill_group(proc):
    """SIGKILL a sweep still running, with its group (its private Ray cluster)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture
def cluster():
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    from ray.cluster_utils import Cluster

    # The head has no CPU, so trials run only on the worker nodes (one trial at a time on each).
    c = Cluster(initialize_head=True, connect=False,
                head_node_args={"num_cpus": 0, "include_dashboard": False})
    try:
        yield c
    finally:
        c.shutdown()


def test_sweep_survives_a_worker_node_kill(cluster, tmp_path):
    worker = cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    path, db = sweep_config(tmp_path, "multinode", cpus=1, epochs=4)
    env = dict(os.environ, PYTHONPATH=ROOT, RAY_ADDRESS="")
    log = open(tmp_path / "sweep.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "designspace", "sweep", path, "--address", cluster.address],
                            cwd=str(tmp_path), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: len(read_rows(db)) >= 1, 180, proc, "the first row")
        assert proc.poll() is None, open(tmp_path / "sweep.log").read()[-2000:]
        time.sleep(0.5)  # the next trial has started on the worker node
        cluster.remove_node(worker, allow_graceful=False)
        wait_for(lambda: "waiting for resources" in open(tmp_path / "sweep.log").read(), 90, proc,
                 "'waiting for resources' on the progress bar")
        cluster.add_node(num_cpus=1)
        proc.wait(timeout=240)
    finally:
        kill_group(proc)
        log.close()
    output = open(tmp_path / "sweep.log").read()
    assert proc.returncode == 0, output[-3000:]
    rows = read_rows(db)
    assert len(rows) == PLANNED and len({r["trial_id"] for r in rows}) == PLANNED
    assert all(r["status"] == "done" for r in rows), [r["message"] for r in rows]
    assert max(r["attempts"] for r in rows) >= 2, [r["attempts"] for r in rows]


def test_ctrl_c_stops_cleanly_and_resumes(tmp_path):
    path, db = sweep_config(tmp_path, "interrupted", cpus=1, epochs=2)
    env = dict(os.environ, PYTHONPATH=ROOT)
    cmd = [sys.executable, "-m", "designspace", "sweep", path, "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=str(tmp_path), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        wait_for(lambda: len(read_rows(db)) >= 1, 180, proc, "the first row")
        err = interrupt(proc)
    finally:
        kill_group(proc)
    assert proc.returncode == 130, err[-3000:]
    assert "interrupted" in err and "Traceback" not in err
    assert "rerun the same command to resume" in err  # the user is told that nothing is lost
    assert "Aborted" not in err and "core dumped" not in err and "Check failed" not in err
    before = {r["trial_id"]: r for r in read_rows(db)}
    assert 1 <= len(before) < PLANNED
    rerun = subprocess.run(cmd, cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    after = {r["trial_id"]: r for r in read_rows(db)}
    assert len(after) == PLANNED and all(after[k] == v for k, v in before.items())


def children_named(pid, name):
    """Processes whose parent is pid and whose command line contains name (Linux /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid and name in cmdline:
            found.append(int(entry))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; a pending ignored signal is Linux's")
def test_ctrl_c_while_ray_starts_is_not_lost(tmp_path):
    path, db = sweep_config(tmp_path, "early", cpus=1, epochs=10_000, models=1)  # a trial of many minutes
    env = dict(os.environ, PYTHONPATH=ROOT)
    cmd = [sys.executable, "-m", "designspace", "sweep", path, "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=str(tmp_path), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        # Ray's GCS is the first process ray.init starts; the raylet and the connection follow.
        wait_for(lambda: children_named(proc.pid, "gcs_server"), 120, proc, "Ray's start")
        err = interrupt(proc, timeout=90)
    finally:
        kill_group(proc)
    assert proc.returncode == 130, err[-3000:]
    assert "interrupted" in err and "Traceback" not in err and "Check failed" not in err
    assert not read_rows(db)


PROBE = """
import sys, time
import ray
ray.init(address=sys.argv[1], logging_level="ERROR")
want_busy, deadline = sys.argv[2] == "busy", time.time() + float(sys.argv[3])
while time.time() < deadline:
    free = ray.available_resources().get("CPU", 0.0)
    if (free < 0.5) == want_busy:
        sys.exit(0)
    time.sleep(0.2)
print("CPU free:", free)
sys.exit(1)
"""


def cluster_cpus(cluster, state, timeout, env):
    """Wait (in a second driver) until the cluster's one worker CPU is busy / free again."""
    probe = subprocess.run([sys.executable, "-c", PROBE, cluster.address, state, str(timeout)], env=env,
                           capture_output=True, text=True, timeout=timeout + 60)
    return probe.returncode == 0


def test_ctrl_c_on_a_joined_cluster_stops_the_trial_in_flight(cluster, tmp_path):
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    # A trial that runs for many minutes (the most epochs a config allows): only stopping it frees the
    # CPU within the check's 30 s.
    path, db = sweep_config(tmp_path, "joined", cpus=1, epochs=10_000, models=1)
    env = dict(os.environ, PYTHONPATH=ROOT, RAY_ADDRESS="")
    log = open(tmp_path / "sweep.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "designspace", "sweep", path, "--address", cluster.address,
                             "--no-progress"], cwd=str(tmp_path), env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        assert cluster_cpus(cluster, "busy", 120, env), open(tmp_path / "sweep.log").read()[-2000:]
        interrupt(proc)
    finally:
        kill_group(proc)
        log.close()
    err = open(tmp_path / "sweep.log").read()
    assert proc.returncode == 130, err[-3000:]
    assert "Check failed" not in err and "Traceback" not in err
    assert cluster_cpus(cluster, "free", 30, env), "the interrupted trial still holds the cluster's CPU"
    assert read_rows(db) == []
