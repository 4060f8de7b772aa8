"""Benchmark: the dashboard on a 10,000-trial store: its refresh latency and its CPU while idle.

    .venv/bin/python benches/bench_dashboard.py [--trials 10000] [--idle 30]

Builds a synthetic store (real specs from AnyNetXA..E and RegNetX, made-up errors; not timed),
starts `designspace dashboard STORE --port 0` as its own process, and measures over HTTP what the
page does:
  - the first /api/state (progress of every sweep) and the first /api/panel (EDFs with bootstrap
    bands, normalized EDFs, the scatter of every model) after start;
  - /api/state while nothing changes (every poll of an open page: a stat of the store's files);
  - the refresh after a trial lands (one row written as a sweep writes it): /api/state showing it,
    then /api/panel returning the plots' numbers of the new version, median of --refreshes;
  - the server's CPU (utime + stime of its process, /proc) while idle: with no page open, and with
    one page polling /api/state every 2 s as the page does, for --idle seconds each.
Baseline in the same run: the report's full analysis (designspace.report.analyze) of the same
models, in this process, so the refresh is also stated as a fraction of it.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
os.environ.setdefault("MPLBACKEND", "Agg")

from designspace.analysis.synthetic import synthetic_trials, write_synthetic_store
from designspace.store import connect, write_trials

SPACES = ("AnyNetXA", "AnyNetXB", "AnyNetXC", "AnyNetXD", "AnyNetXE", "RegNetX")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def get(port: int, path: str) -> tuple[float, dict]:
    t0 = time.perf_counter()
    con = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        con.request("GET", path, headers={"Accept-Encoding": "gzip"})
        resp = con.getresponse()
        body = resp.read()
    finally:
        con.close()
    if resp.status != 200:
        raise RuntimeError(f"{path}: HTTP {resp.status}")
    if resp.getheader("Content-Encoding") == "gzip":
        import gzip

        wire, body = len(body), gzip.decompress(body)
    else:
        wire = len(body)
    out = json.loads(body)
    out["_bytes"] = (wire, len(body))
    return time.perf_counter() - t0, out


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=10_000)
    ap.add_argument("--idle", type=float, default=30.0, help="seconds of each idle CPU measurement")
    ap.add_argument("--refreshes", type=int, default=5)
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # each figure as it is measured, also into a pipe
    folder = tempfile.mkdtemp(prefix="bench-dashboard-")
    db = os.path.join(folder, "results.db")
    per_space = args.trials // len(SPACES)
    t0 = time.perf_counter()
    write_synthetic_store(db, spaces=SPACES, n=per_space, seed=0, sweep="big")
    connect(db).close()
    print(f"store: {per_space * len(SPACES)} trials, {os.path.getsize(db) / 1e6:.1f} MB "
          f"({time.perf_counter() - t0:.0f} s to build, not timed); {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}")

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")]))
    t_start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "designspace.cli", "dashboard", db, "--port", "0"],
                            stdout=subprocess.PIPE, text=True, env=env)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    try:
        port = int(lines.get(timeout=300).split()[-1].rstrip("/").rsplit(":", 1)[1])
        started = time.perf_counter() - t_start
        first_state, state = get(port, "/api/state")
        first_panel, panel = get(port, "/api/panel?store=0&sweep=big")
        print(f"start: {started:.2f} s to listen; first /api/state {first_state * 1e3:.0f} ms; first /api/panel "
              f"{first_panel:.2f} s ({panel['models']} models, {panel['_bytes'][0] / 1e3:.0f} kB gzip, "
              f"{panel['_bytes'][1] / 1e3:.0f} kB JSON)")
        polls = [get(port, "/api/state")[0] for _ in range(50)]
        print(f"/api/state, nothing changed: median {statistics.median(polls) * 1e3:.1f} ms, "
              f"max {max(polls) * 1e3:.1f} ms over 50 polls")

        con = connect(db)
        seen_state, seen_panel = [], []
        for k in range(args.refreshes):
            time.sleep(4.5)  # past the recomputation hold-back, as a sweep's next result would be
            write_trials(con, synthetic_trials(spaces=("RegNetX",), n=1, seed=1000 + k, sweep="big"))
            t = time.perf_counter()
            while True:
                _, state = get(port, "/api/state")
                if state["stores"][0]["sweeps"][0]["stored"] == per_space * len(SPACES) + k + 1:
                    break
            seen_state.append(time.perf_counter() - t)
            version = state["stores"][0]["sweeps"][0]["data"]
            while True:
                _, panel = get(port, "/api/panel?store=0&sweep=big")
                if panel["data"] == version:
                    break
                time.sleep(0.1)
            seen_panel.append(time.perf_counter() - t)
        con.close()
        refresh = statistics.median(seen_panel)
        print(f"refresh after a trial lands: /api/state shows it in {statistics.median(seen_state) * 1e3:.0f} ms, "
              f"the plots' numbers in {refresh:.2f} s (median of {args.refreshes}; all: "
              f"{', '.join(f'{s:.2f}' for s in seen_panel)} s)")

        c0, w0 = cpu_seconds(proc.pid), time.perf_counter()
        time.sleep(args.idle)
        idle_none = (cpu_seconds(proc.pid) - c0) / (time.perf_counter() - w0)
        c0, w0 = cpu_seconds(proc.pid), time.perf_counter()
        while time.perf_counter() - w0 < args.idle:
            get(port, "/api/state")
            time.sleep(2.0)
        idle_page = (cpu_seconds(proc.pid) - c0) / (time.perf_counter() - w0)
        print(f"server CPU while idle: {100 * idle_none:.2f}% of a core with no page open, {100 * idle_page:.2f}% "
              f"with one page polling every 2 s ({args.idle:.0f} s each)")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)

    from designspace.analysis import done_trials, model_table, read_population
    from designspace.report import analyze

    models = model_table(done_trials(read_population([db], ["big"])))
    t = time.perf_counter()
    analyze(models, workers=1)
    full = time.perf_counter() - t
    print(f"baseline: the report's full analysis of the same {len(models)} models: {full:.2f} s (one process); "
          f"the dashboard's refresh is {refresh / full:.2f} of it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
