"""designspace dashboard without a browser: its data endpoints on real stores, read-only (bytes and
folder listing unchanged, also beside a live writer), path requests and tokenless requests refused,
bad input refused in one line; the sweep progress and ETA it derives from a live driver."""
import json
import multiprocessing as mp
import os
import shutil
import socket
import sqlite3
import sys
import time

import pytest
from dashboard_helpers import REPO, dashboard, get_json, request, snapshot, trials_with_epochs, write_store

from designspace import store
from designspace.cli import main
from designspace.dashboard.progress import store_progress


def one_line_exit_2(argv, capsys, needle):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0] and "Traceback" not in err[0], err


def wait_for(fetch, cond, timeout=60.0, every=0.3):
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if cond(value):
            return value
        assert time.monotonic() < deadline, f"condition not met in {timeout} s; last: {str(value)[:500]}"
        time.sleep(every)


def test_endpoints_show_sweeps_spaces_plots_and_a_models_epochs(tmp_path):
    db = write_store(tmp_path / "results.db", n=30, spaces=("AnyNetXA", "RegNetX"), sweep="demo")
    tiny = write_store(tmp_path / "tiny.db", n=2, spaces=("AnyNetXA", "RegNetX"), sweep="tiny")
    with dashboard(db, tiny) as (base, token, _):
        assert token is None
        state = get_json(base, "/api/state")
        st, small = state["stores"]
        (sw,) = st["sweeps"]
        assert sw["sweep"] == "demo" and sw["done"] == 60 and sw["stored"] == 60
        assert [sp["space"] for sp in sw["spaces"]] == ["AnyNetXA", "RegNetX"]
        panel = get_json(base, f"/api/panel?store={st['key']}&sweep=demo")
        assert panel["models"] == 60 and panel["data"] == sw["data"]
        for key in ("edf", "edf_normalized"):
            fig = panel["figures"][key]
            assert fig["missing"] is None and fig["caption"]
            series = fig["panels"][0]["series"]
            assert [(x["group"], x["n"]) for x in series] == [("AnyNetXA", 30), ("RegNetX", 30)]
            for x in series:
                d = x["data"]
                assert len(d["error"]) == len(d["cdf"]) == len(d["lo"]) == len(d["hi"]) > 10
                assert d["cdf"][-1] == 1.0 and all(lo <= f <= hi for lo, f, hi in zip(d["lo"], d["cdf"], d["hi"]))
        assert [r["space"] for r in panel["ranking"]] in (["AnyNetXA", "RegNetX"], ["RegNetX", "AnyNetXA"])
        assert all(r["median_lo"] <= r["median"] <= r["median_hi"] for r in panel["ranking"])
        scatter = {s["space"]: s for s in panel["scatter"]}
        assert len(scatter["RegNetX"]["trial_id"]) == 30 and min(scatter["RegNetX"]["flops"]) > 0
        tid = scatter["RegNetX"]["trial_id"][0]
        model = get_json(base, f"/api/model?store={st['key']}&sweep=demo&trial={tid}")
        assert model["space"] == "RegNetX" and model["spec"]["stages"] and model["flops"] > 0
        (trial,) = model["trials"]
        assert trial["epochs"]["epoch"] == [1, 2, 3]
        assert trial["epochs"]["test_error"][-1] == pytest.approx(model["error"])
        assert request(base, f"/api/model?store={st['key']}&sweep=demo&trial=nope")[0] == 404
        # too few models for a normalized EDF: the sentence that says so, not empty axes
        few = get_json(base, f"/api/panel?store={small['key']}&sweep=tiny")
        assert few["models"] == 4 and few["figures"]["edf"]["missing"] is None
        assert "Not drawn" in few["figures"]["edf_normalized"]["missing"]
        assert request(base, "/api/panel?store=7&sweep=demo")[0] == 404
        assert request(base, f"/api/panel?store={st['key']}&sweep=other")[0] == 404
        status, headers, body = request(base, "/")
        assert status == 200 and b"/static/plotly.min.js" in body
        assert "default-src 'none'" in headers["Content-Security-Policy"]
        status, _, js = request(base, "/static/plotly.min.js")
        assert status == 200 and len(js) > 1_000_000  # the plotly package's own bundle


def test_the_report_and_the_dashboard_show_the_same_numbers(tmp_path):
    """One analysis, two views: `designspace analyze`'s summary.json and data/*.csv hold the numbers
    the dashboard's endpoint serves for the same sweep."""
    import pandas as pd

    db = write_store(tmp_path / "results.db", n=15, spaces=("AnyNetXA", "AnyNetXE", "RegNetX"), sweep="demo")
    with dashboard(db) as (base, _, _):
        get_json(base, "/api/state")
        panel = get_json(base, "/api/panel?store=0&sweep=demo")
    out = tmp_path / "report"
    assert main(["analyze", db, "--out", str(out), "--workers", "1"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_models"] == panel["models"] == 45
    report_rank = {r["space"]: r for r in summary["ranking"]}
    assert [r["space"] for r in summary["ranking"]] == [r["space"] for r in panel["ranking"]]
    for row in panel["ranking"]:
        for key in ("n", "median", "median_lo", "median_hi", "best", "median_normalized"):
            assert row[key] == pytest.approx(report_rank[row["space"]][key], rel=1e-12, abs=1e-12), key
    for name, table in (("edf", "edf_bands"), ("edf_normalized", "edf_normalized_bands")):
        csv = pd.read_csv(out / "data" / f"{table}.csv")
        by = "population" if "population" in csv else "space"
        series = panel["figures"][name]["panels"][0]["series"]
        assert sorted(x["group"] for x in series) == sorted(csv[by].unique())
        for x in series:
            rows = csv[csv[by] == x["group"]]
            for col in ("error", "cdf", "lo", "hi"):
                assert x["data"][col] == pytest.approx(rows[col].tolist(), rel=1e-12, abs=1e-12), (name, col)
    assert [n for n in panel["notes"]] == [n["text"] for n in summary["notes"] if n["kind"] in ("warning", "setting")]


def test_a_store_it_reads_keeps_its_bytes_and_gets_no_file_beside_it(tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    db = write_store(folder / "results.db", n=10)
    con = store.connect(db)  # a store a sweep finished: WAL mode, its writer gone
    con.close()
    before = snapshot(folder)
    assert list(before) == ["results.db"]
    with dashboard(folder) as (base, _, _):
        state = get_json(base, "/api/state")
        key = state["stores"][0]["key"]
        panel = get_json(base, f"/api/panel?store={key}&sweep=synthetic")
        get_json(base, f"/api/model?store={key}&sweep=synthetic&trial={panel['scatter'][0]['trial_id'][0]}")
        for _ in range(3):
            get_json(base, "/api/state")
        assert snapshot(folder) == before  # while it runs, too
    assert snapshot(folder) == before


def _writer(db, n_batches, ready, go, done):
    """A sweep-like writer in another process: one connection held open (WAL), a batch per step."""
    con = store.connect(db)
    ready.set()
    for k in range(n_batches):
        go.wait()
        go.clear()
        store.write_trials(con, trials_with_epochs(n=2, seed=100 + k, spaces=("AnyNetXE",)))
        done.set()
    con.close()


def test_follows_a_store_while_another_process_writes_it(tmp_path):
    folder = tmp_path / "live"
    folder.mkdir()
    db = write_store(folder / "results.db", n=5)
    ctx = mp.get_context("spawn")
    ready, go, done = ctx.Event(), ctx.Event(), ctx.Event()
    writer = ctx.Process(target=_writer, args=(db, 3, ready, go, done))
    writer.start()
    try:
        assert ready.wait(60)
        with dashboard(db) as (base, _, _):
            seen = []
            for k in range(3):
                state = get_json(base, "/api/state")
                sw = state["stores"][0]["sweeps"][0]
                seen.append(sw["stored"])
                # the plots' numbers follow (held back to one computation every few seconds)
                wait_for(lambda: get_json(base, "/api/panel?store=0&sweep=synthetic"),
                         lambda p: p["models"] == sw["stored"] and p["data"] == sw["data"])
                if k < 2:  # the last batch lands once the writer is gone (below)
                    done.clear()
                    go.set()
                    assert done.wait(60)
            assert seen == [10, 12, 14]
            go.set()
            writer.join(60)  # its last batch written and its connection closed: SQLite removes -wal and -shm
            assert writer.exitcode == 0
            after_writer = snapshot(folder)
            assert list(after_writer) == ["results.db"]
            final = get_json(base, "/api/state")["stores"][0]["sweeps"][0]
            assert final["stored"] == 16 and [s["space"] for s in final["spaces"]] == ["AnyNetXA", "AnyNetXE",
                                                                                      "RegNetX"]
            wait_for(lambda: get_json(base, "/api/panel?store=0&sweep=synthetic"), lambda p: p["models"] == 16)
            assert snapshot(folder) == after_writer  # reading the finished store wrote nothing
    finally:
        go.set()
        writer.join(30)
        if writer.is_alive():
            writer.kill()


PATHS = ["/..", "/../", "/../../etc/passwd", "/static/../static/dashboard.js", "/static/..%2f..%2fetc%2fpasswd",
         "/%2e%2e/%2e%2e/etc/passwd", "/static/%2e%2e/dashboard.py", "//etc/passwd", "/etc/passwd", "/static/",
         "/static/server.py", "/static/index.html", "/static\\..\\server.py", "/api/", "/api/../static/dashboard.js",
         "/results.db", "/api/state/../../results.db"]


def test_only_its_own_pages_and_data_are_served(tmp_path):
    db = write_store(tmp_path / "results.db", n=4)
    with dashboard(db) as (base, _, _):
        for path in PATHS + ["/" + os.path.abspath(db).lstrip("/"), "/" + os.path.abspath(db)]:
            status, _, body = request(base, path)
            assert status == 404, (path, status)
            assert b"root:" not in body and b"SQLite" not in body and b"import" not in body
        # a page elsewhere cannot reach a loopback dashboard through a DNS name of its own
        assert request(base, "/api/state", headers={"Host": "attacker.example:8765"})[0] == 403
        assert request(base, "/api/state", headers={"Host": "localhost"})[0] == 200


def test_no_request_path_opens_a_file(tmp_path):
    """In this process, with Python's audit hook: serving the refused paths opens no file at all
    (the page's files were read once, when the server started)."""
    import asyncio
    import threading

    from aiohttp import web

    from designspace.dashboard import Dashboard, find_sources, make_app

    db = write_store(tmp_path / "results.db", n=4)
    opened, watching = [], threading.Event()

    def hook(event, args):
        if watching.is_set() and event in ("open", "os.listdir", "os.scandir"):
            opened.append((event, args[0] if args else None))

    sys.addaudithook(hook)  # stays for the session; it records only while `watching` is set
    loop = asyncio.new_event_loop()
    dash = Dashboard(*find_sources([db]))
    runner = web.AppRunner(make_app(dash))
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{port}"
        watching.set()
        for path in PATHS:
            assert request(base, path)[0] == 404, path
        watching.clear()
        assert opened == []
        assert request(base, "/static/dashboard.js")[0] == 200  # served, and from memory too
    finally:
        watching.clear()
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        dash.close()


def test_any_other_address_needs_the_printed_token(tmp_path):
    db = write_store(tmp_path / "results.db", n=4)
    with dashboard(db, host="0.0.0.0") as (base, token, _):
        assert token and len(token) >= 32
        local = base.replace("0.0.0.0", "127.0.0.1")
        for path in ("/", "/api/state", "/static/plotly.min.js", "/api/panel?store=0&sweep=synthetic", "/etc/passwd"):
            status, _, body = request(local, path)
            assert status == 403 and b"token" in body, (path, status)
            assert request(local, path + ("&" if "?" in path else "?") + "token=wrong")[0] == 403
            assert request(local, path, headers={"Cookie": "designspace-dashboard-1=" + token})[0] == 403
        status, headers, _ = request(local, f"/?token={token}")
        assert status == 302 and headers["Location"] == "/"  # the token leaves the address bar ...
        cookie = headers["Set-Cookie"].split(";")[0]
        assert token in cookie and "HttpOnly" in headers["Set-Cookie"]
        assert request(local, "/", headers={"Cookie": cookie})[0] == 200  # ... for a cookie
        assert get_json(local, "/api/state", headers={"Cookie": cookie})["stores"][0]["sweeps"][0]["done"] == 8
        assert request(local, "/../../etc/passwd", headers={"Cookie": cookie})[0] == 404


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    text = tmp_path / "notes.db"
    text.write_text("not a store")
    one_line_exit_2(["dashboard", str(text)], capsys, "not a designspace result store")
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    one_line_exit_2(["dashboard", str(empty)], capsys, "not a designspace result store")
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE users (name TEXT)")
    con.commit()
    con.close()
    before = snapshot(tmp_path)
    one_line_exit_2(["dashboard", str(other)], capsys, "another program")
    assert snapshot(tmp_path) == before
    one_line_exit_2(["dashboard", str(tmp_path / "missing.db")], capsys, "no result store or folder")
    nothing = tmp_path / "nothing"
    nothing.mkdir()
    one_line_exit_2(["dashboard", str(nothing)], capsys, "holds no result store")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    write_store(mixed / "good.db", n=2)
    shutil.copy(text, mixed / "bad.db")
    one_line_exit_2(["dashboard", str(mixed)], capsys, "bad.db")
    good = str(mixed / "good.db")
    one_line_exit_2(["dashboard", good, "--port", "70000"], capsys, "--port")
    one_line_exit_2(["dashboard", good, "--port", "x"], capsys, "--port")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        one_line_exit_2(["dashboard", good, "--port", str(taken.getsockname()[1])], capsys, "cannot listen")


def test_progress_counts_running_trials_and_a_measured_eta(tmp_path):
    db = str(tmp_path / "results.db")
    con = store.connect(db)
    store.record_sweep(con, "s", {"name": "s"}, planned=12)
    rows = trials_with_epochs(n=4, sweep="s", spaces=("RegNetX",))
    early = time.time() - 1000
    for r in rows:  # a run before this driver's: slower trials, not this run's pace
        r.update(seconds=100.0, finished_at=early)
    store.write_trials(con, rows)
    store.acquire_lock(con, "s", db)
    store.heartbeat(con, "s", running=2)
    later = [dict(r, trial_id=f"{r['trial_id']}-b", seconds=10.0, finished_at=None)
             for r in trials_with_epochs(n=3, sweep="s", spaces=("AnyNetXA",), seed=1)]
    later[0].update(status="failed", error=None)
    later[1].update(status="timeout", error=None, seconds=None)
    store.write_trials(con, later)
    (sw,) = store_progress(db)
    assert (sw["planned"], sw["stored"], sw["to_go"]) == (12, 7, 5)
    assert (sw["done"], sw["failed"], sw["timeout"], sw["running"]) == (5, 1, 1, 2)
    assert sw["driver"]["pid"] == os.getpid()
    # 5 to go x 10 s (the one trial of this run with a time that finished) / 2 running
    assert sw["eta_s"] == pytest.approx(5 * 10.0 / 2) and "this run" in sw["basis"]
    store.release_lock(con, "s")
    (sw,) = store_progress(db)
    assert sw["driver"] is None and sw["running"] is None and sw["eta_s"] is None
    assert "no driver" in sw["basis"] and "5 trials" in sw["basis"]
    con.close()


def _reproduce_folder(root, suite_file, ids=(1, 2, 5)):
    """A copy of the cpu tier's results for a few claims: <root>/base.db and <root>/paper-cpu/claims.json."""
    src = os.path.join(REPO, "results", "paper", "cpu")
    with open(os.path.join(src, "paper-cpu", "claims.json")) as fh:
        result = json.load(fh)
    result["claims"] = [c for c in result["claims"] if c["id"] in ids]
    keys = {k for c in result["claims"] for k in c["sweeps"]}
    result["sweeps"] = {k: v for k, v in result["sweeps"].items() if k in keys}
    result["suite_file"] = suite_file
    os.makedirs(os.path.join(root, "paper-cpu"))
    for k in keys:
        shutil.copy(os.path.join(src, f"{k}.db"), os.path.join(root, f"{k}.db"))
    with open(os.path.join(root, "paper-cpu", "claims.json"), "w") as fh:
        json.dump(result, fh)
    return result


def test_a_reproduce_folders_claims_are_judged_on_its_stores_as_they_are(tmp_path):
    from designspace.claims import judge, load_suite

    suite_file = os.path.join(REPO, "experiments", "paper", "cpu.yaml")
    live, reference, stale = tmp_path / "live", tmp_path / "reference", tmp_path / "stale"
    written = _reproduce_folder(str(live), suite_file)
    _reproduce_folder(str(reference), suite_file)
    _reproduce_folder(str(stale), "experiments/paper/no-such-suite.yaml")
    suite = load_suite(suite_file)
    expected = judge(suite, suite.select([1, 2, 5]), str(reference))  # in a copy of its own
    before = {p: snapshot(p) for p in (live, live / "paper-cpu")}
    with dashboard(live / "paper-cpu", stale) as (base, _, _):
        state = get_json(base, "/api/state")
        assert sorted(st["label"].rsplit("/", 1)[-1] for st in state["stores"]) == ["base.db", "base.db"]
        assert [f["suite"] for f in state["claims"]] == ["paper-cpu", "paper-cpu"]
        now = get_json(base, "/api/claims?folder=0")
        assert now["source"] == "live" and [c["id"] for c in now["claims"]] == [1, 2, 5]
        for got, want in zip(now["claims"], expected["claims"]):
            assert got["verdict"] == want["verdict"]
            for gp, wp in zip(got["parts"], want["parts"], strict=True):
                eff = wp["effect"]
                assert (gp["estimate"], gp["lo"], gp["hi"], gp["verdict"]) == \
                    (eff["estimate"], eff["lo"], eff["hi"], wp["verdict"])
                assert gp["n"] == eff["n"] and gp["level"] == eff["level"]
        as_written = get_json(base, "/api/claims?folder=1")
        assert as_written["source"] == "stored" and "not found" in as_written["note"]
        for got, want in zip(as_written["claims"], written["claims"], strict=True):
            assert got["verdict"] == want["verdict"]
            assert [p["estimate"] for p in got["parts"]] == [p["effect"]["estimate"] for p in want["parts"]]
        assert request(base, "/api/claims?folder=2")[0] == 404
    assert {p: snapshot(p) for p in (live, live / "paper-cpu")} == before


def test_a_driver_of_an_older_store_shows_as_running_unknown(tmp_path):
    """A store whose drivers table predates `running` (a sweep of an older release still writing it):
    the driver is live, its trials in flight unknown; the next writer adds the column."""
    db = str(tmp_path / "old.db")
    con = sqlite3.connect(db)
    con.executescript(store.SCHEMA)  # the tables as first released: drivers without `running`
    con.execute(f"PRAGMA application_id = {store.APPLICATION_ID}")
    con.commit()
    assert "running" not in {r[1] for r in con.execute("PRAGMA table_info(drivers)")}
    con.execute("INSERT INTO drivers (sweep, host, pid, pid_start, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?)",
                ("s", socket.gethostname(), os.getpid(), store.lock._process_start(os.getpid()), time.time(),
                 time.time()))
    con.execute("INSERT INTO sweeps (name, planned) VALUES ('s', 5)")
    con.commit()
    con.close()
    (sw,) = store_progress(db)
    assert sw["driver"]["pid"] == os.getpid() and sw["running"] is None and sw["to_go"] == 5
    store.write_trials(db, trials_with_epochs(n=2, sweep="s", spaces=("RegNetX",)))  # a writer: column added
    con = sqlite3.connect(db)
    assert "running" in {r[1] for r in con.execute("PRAGMA table_info(drivers)")}
    con.close()


def test_a_schema_2_folder_is_judged_live_by_its_own_rules():
    """The post-hoc folder's suite is schema 2 (pairing, complexity control, Holm and FDR): judged
    live on its stores, every claim gets the verdict its committed claims.json holds."""
    from designspace.dashboard.claims import judge_folder

    folder = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "results", "paper", "cpu",
                          "posthoc")
    stored = json.loads(open(os.path.join(folder, "claims.json")).read())
    live = judge_folder(folder, stored)
    assert live["source"] == "live"
    assert {c["id"]: c["verdict"] for c in live["claims"]} == {c["id"]: c["verdict"] for c in stored["claims"]}
