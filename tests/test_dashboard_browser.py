"""designspace dashboard in a real browser: headless Chromium (Debian's chromium and chromium-driver,
driven by selenium) on stores of real sweeps. The page loads offline (every resource from the
dashboard itself), shows the sweeps and spaces, draws its plots, shows a hovered model's spec and
per-epoch curve, and follows trials as they land, without a reload. Without Chromium these tests
fail (`make test` installs it): they are never skipped."""
import os
import shutil
import threading
import time

import pytest
from dashboard_helpers import dashboard, trials_with_epochs, write_store

from designspace.store import write_trials
from designspace.sweep import parse_config, run_sweep

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1400,2000"]
SWEEP = {"spaces": ["AnyNetXA", "RegNetX"], "models_per_space": 6, "flops": "0.2M:1M",
         "dataset": {"name": "synthetic", "train_size": 256, "test_size": 128},
         "recipe": {"epochs": 2, "batch_size": 64}}


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not binary or not driver_path:
        pytest.fail("the dashboard's browser tests need Chromium and its driver: apt-get install chromium "
                    "chromium-driver (make test installs them)")
    os.environ["SE_OFFLINE"] = "true"  # selenium must not look for a driver on the internet
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"]:
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=opts)
    driver.set_page_load_timeout(120)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def swept(ray_cluster, tmp_path_factory):
    """A store written by a real sweep: 2 spaces x 6 models trained 2 epochs on the synthetic dataset."""
    folder = tmp_path_factory.mktemp("swept")
    cfg = parse_config({**SWEEP, "name": "tiny", "store": str(folder / "results.db")})
    counts = run_sweep(cfg, progress=False)
    assert counts["done"] == 12, counts
    return cfg, folder


def wait_js(driver, script, timeout=120, every=0.25):
    """The value of `script` once truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = driver.execute_script(script)
        if value:
            return value
        if time.monotonic() > deadline:
            status = driver.execute_script("return document.getElementById('status')?.textContent")
            raise AssertionError(f"not true within {timeout} s: {script}; page status {status!r}; "
                                 f"browser log {driver.get_log('browser')}")
        time.sleep(every)


SECTION = 'document.querySelector(`section.sweep[data-sweep="{}"]`)'


def plot_traces(driver, sweep, which):
    """Per trace of a plot: its name and number of points (None while it is not drawn)."""
    return driver.execute_script(
        f"const d = {SECTION.format(sweep)}?.querySelector('.plot.{which}');"
        "return d && d.data ? d.data.map(t => [t.name || null, t.x.length]) : null;")


def test_the_page_shows_a_real_sweep_its_plots_and_a_hovered_model(browser, swept):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    cfg, folder = swept
    with dashboard(folder) as (base, _, _):
        browser.get(base + "/")
        wait_js(browser, f"return {SECTION.format('tiny')}?.dataset.models === '12'")
        title = browser.find_element(By.CSS_SELECTOR, 'section.sweep[data-sweep="tiny"] h2').text
        assert "sweep tiny" in title and "results.db" in title
        rows = browser.find_elements(By.CSS_SELECTOR, 'section.sweep[data-sweep="tiny"] table.spaces tr[data-space]')
        assert [(r.get_attribute("data-space"), r.find_elements(By.TAG_NAME, "td")[1].text) for r in rows] == \
            [("AnyNetXA", "6"), ("RegNetX", "6")]
        counts = browser.find_element(By.CSS_SELECTOR, 'section.sweep[data-sweep="tiny"] .counts').text
        assert "12 done" in counts and "12 of 12 planned stored" in counts
        edf = plot_traces(browser, "tiny", "edf")
        assert [t for t in edf if t[0]] == [["AnyNetXA (6)", 200], ["RegNetX (6)", 200]]  # + a band per space
        assert len(edf) == 6
        assert plot_traces(browser, "tiny", "scatter") == [["AnyNetXA (6)", 6], ["RegNetX (6)", 6]]
        normalized = browser.find_element(By.CSS_SELECTOR, 'section.sweep[data-sweep="tiny"] .plot.edf-normalized')
        assert plot_traces(browser, "tiny", "edf-normalized") or "normalized" in normalized.text
        # drawn, not just given data: the SVG holds the curves and the points
        assert browser.execute_script(f"return {SECTION.format('tiny')}.querySelectorAll('.plot.edf path.js-line')"
                                      ".length") >= 2
        points = browser.find_elements(By.CSS_SELECTOR, 'section.sweep[data-sweep="tiny"] .plot.scatter path.point')
        assert len(points) == 12
        ActionChains(browser).move_to_element(points[0]).perform()
        heading = wait_js(browser, f"return {SECTION.format('tiny')}.querySelector('.model h3')?.textContent")
        assert heading.split(" · ")[0] in ("AnyNetXA", "RegNetX")
        curve = wait_js(browser, f"const c = {SECTION.format('tiny')}.querySelector('.model .curve');"
                                 "return c && c.data ? c.data.map(t => [t.name, t.x]) : null;")
        assert curve[0][0].startswith("test error") and curve[0][1] == [1, 2]  # the model's two epochs
        stages = browser.find_elements(By.CSS_SELECTOR, 'section.sweep[data-sweep="tiny"] .model table tr')
        assert len(stages) >= 2  # a header and one row per stage of its spec
        # offline: everything the page loaded came from the dashboard itself
        loaded = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert loaded and all(u.startswith(base + "/") for u in loaded), loaded
        assert base + "/static/plotly.min.js" in loaded
        severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert severe == []


def test_new_trials_appear_without_a_reload(browser, tmp_path):
    db = write_store(tmp_path / "results.db", n=5, sweep="growing", spaces=("AnyNetXA", "RegNetX"))
    with dashboard(db) as (base, _, _):
        browser.get(base + "/")
        wait_js(browser, f"return {SECTION.format('growing')}?.dataset.models === '10'")
        browser.execute_script("window.stillTheSamePage = true;")
        write_trials(db, trials_with_epochs(n=4, seed=7, sweep="growing", spaces=("AnyNetXE",)))
        wait_js(browser, f"return {SECTION.format('growing')}?.dataset.models === '14'", timeout=60)
        assert plot_traces(browser, "growing", "scatter") == [["AnyNetXA (5)", 5], ["AnyNetXE (4)", 4],
                                                              ["RegNetX (5)", 5]]
        assert "14 done" in browser.execute_script(f"return {SECTION.format('growing')}.querySelector('.counts')"
                                                   ".textContent")
        write_trials(db, trials_with_epochs(n=2, seed=8, sweep="another", spaces=("RegNetX",)))
        wait_js(browser, f"return {SECTION.format('another')}?.dataset.models === '2'", timeout=60)
        assert browser.execute_script("return window.stillTheSamePage === true && "
                                      "performance.getEntriesByType('navigation').length === 1")


def test_a_running_sweep_is_followed_live(browser, swept):
    """A second real sweep into the store the page shows: its section appears, its trials run and land."""
    cfg, folder = swept
    with dashboard(folder) as (base, _, _):
        browser.get(base + "/")
        wait_js(browser, f"return {SECTION.format('tiny')}?.dataset.models === '12'")
        browser.execute_script("window.stillTheSamePage = true;")
        seen, stop = [], threading.Event()

        def watch():
            while not stop.is_set():
                seen.append(browser.execute_script(
                    f"const s = {SECTION.format('more')}; if (!s) return null;"
                    "return [s.querySelector('.n-done b').textContent, s.querySelector('.n-running b').textContent];"))
                time.sleep(0.2)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            more = parse_config({**SWEEP, "name": "more", "store": cfg.store, "models_per_space": 4,
                                 "spaces": ["AnyNetXE", "RegNetX"]})
            assert run_sweep(more, progress=False)["done"] == 8
            wait_js(browser, f"return {SECTION.format('more')}?.dataset.models === '8'", timeout=60)
        finally:
            stop.set()
            watcher.join(10)
        shown = [s for s in seen if s]
        assert shown, "the new sweep never showed while it ran"
        done = [int(d) for d, _ in shown]
        assert done == sorted(done) and done[-1] <= 8
        assert any(r not in ("0", "?") for _, r in shown), shown  # its driver's trials in flight were shown
        assert browser.execute_script("return window.stillTheSamePage === true")


def test_a_token_opens_the_page_once_then_a_cookie_carries_it(browser, tmp_path):
    db = write_store(tmp_path / "results.db", n=3, sweep="guarded")
    with dashboard(db, host="0.0.0.0") as (base, token, _):
        local = base.replace("0.0.0.0", "127.0.0.1")
        browser.get(local + "/api/state")
        assert "forbidden" in browser.page_source
        browser.get(f"{local}/?token={token}")
        wait_js(browser, f"return {SECTION.format('guarded')}?.dataset.models === '6'")
        assert browser.current_url == local + "/"  # the token left the address bar
        browser.delete_all_cookies()
