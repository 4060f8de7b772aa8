"""Shared by the dashboard tests: a real `designspace dashboard` process, HTTP requests sent as
written (no client-side path normalization), stores with per-epoch records, file snapshots."""
import hashlib
import http.client
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from contextlib import contextmanager
from urllib.parse import urlsplit

from designspace.analysis.synthetic import synthetic_trials
from designspace.store import write_trials

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def trials_with_epochs(n=6, sweep="synthetic", seed=0, spaces=("AnyNetXA", "RegNetX"), epochs=3):
    """Synthetic rows (real specs) with per-epoch records that end at each row's error."""
    rows = synthetic_trials(spaces=spaces, n=n, seed=seed, sweep=sweep)
    for r in rows:
        r["per_epoch"] = [{"epoch": k, "train_loss": 2.0 / k, "test_error": r["error"] + 3 * (epochs - k),
                           "lr": 0.1, "seconds": 0.5} for k in range(1, epochs + 1)]
    return rows


def write_store(path, **kwargs):
    write_trials(str(path), trials_with_epochs(**kwargs))
    return str(path)


def snapshot(folder):
    """{name: sha256} of every file in `folder`: what must not change while the dashboard reads."""
    out = {}
    for name in sorted(os.listdir(folder)):
        p = os.path.join(folder, name)
        if os.path.isfile(p):
            with open(p, "rb") as fh:
                out[name] = hashlib.sha256(fh.read()).hexdigest()
        else:
            out[name] = "<folder>"
    return out


@contextmanager
def dashboard(*args, host="127.0.0.1", timeout=120):
    """A `designspace dashboard ARGS --port 0` process; yields (base URL without the token, token or
    None, the process). Stopped with SIGINT afterwards, which must end it cleanly, having logged no
    error (aiohttp logs a handler's exception to stderr)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-m", "designspace.cli", "dashboard", *map(str, args), "--host", host,
                             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines: queue.Queue = queue.Queue()
    err: list = []
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    reader = threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True)
    reader.start()
    try:
        try:
            first = lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"the dashboard printed no address in {timeout} s: {''.join(err)}") from None
        assert first.startswith("designspace dashboard: http://"), first
        url = first.split()[-1]
        base, _, token = url.partition("?token=")
        base = base.rstrip("/")
        yield base, token or None, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        reader.join(timeout=10)
    assert proc.returncode == 0, (proc.returncode, "".join(err))
    assert "Traceback" not in "".join(err) and "Error handling request" not in "".join(err), "".join(err)


def request(base, path, headers=None, host=None):
    """GET `path` exactly as written -> (status, headers, body bytes)."""
    parts = urlsplit(base)
    con = http.client.HTTPConnection(host or parts.hostname, parts.port, timeout=120)
    try:
        con.request("GET", path, headers=headers or {})
        resp = con.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        con.close()


def get_json(base, path, **kwargs):
    status, _, body = request(base, path, **kwargs)
    assert status == 200, (path, status, body[:300])
    return json.loads(body)
