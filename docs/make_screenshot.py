"""How docs/dashboard.png is made: the dashboard on a store, in headless Chromium, one model hovered.

    .venv/bin/python docs/make_screenshot.py results/demo/results.db docs/dashboard.png

Starts `designspace dashboard STORE --port 0`, opens it in Debian's chromium through chromedriver
(selenium, offline), waits until the first sweep's plots are drawn, hovers the best model's point in
the scatter plot so that its spec and per-epoch curve show, and saves the page's first screen.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

WIDTH, HEIGHT = 1400, 2000


def main(store: str, out: str) -> int:
    os.environ["SE_OFFLINE"] = "true"  # selenium must not look for a driver on the internet
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen([sys.executable, "-m", "designspace.cli", "dashboard", store, "--port", "0"],
                            stdout=subprocess.PIPE, text=True, cwd=repo,
                            env=dict(os.environ, PYTHONPATH=repo))
    driver = None
    try:
        url = proc.stdout.readline().split()[-1]
        opts = webdriver.ChromeOptions()
        opts.binary_location = shutil.which("chromium")
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
                     "--disable-background-networking", f"--window-size={WIDTH},{HEIGHT}",
                     f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-')}"):
            opts.add_argument(flag)
        driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
        driver.get(url)
        deadline = time.monotonic() + 180
        while not driver.execute_script("const d = document.querySelector('section.sweep .plot.scatter');"
                                        "return d && d.data && d.data.length > 0"):
            if time.monotonic() > deadline:
                raise SystemExit("the dashboard drew no scatter plot within 180 s")
            time.sleep(0.5)
        time.sleep(2.0)  # let the EDFs' bands finish drawing
        points = driver.find_elements(By.CSS_SELECTOR, "section.sweep .plot.scatter path.point")
        # the point lowest on the page is the lowest error: hover it
        best = max(points, key=lambda p: p.location["y"])
        ActionChains(driver).move_to_element(best).perform()
        while not driver.execute_script("const c = document.querySelector('section.sweep .model .curve');"
                                        "return c && c.data && c.data.length > 0"):
            if time.monotonic() > deadline:
                raise SystemExit("hovering a model showed no per-epoch curve within 180 s")
            time.sleep(0.5)
        time.sleep(1.0)
        driver.save_screenshot(out)
        print(f"wrote {out} ({WIDTH}x{HEIGHT}) from {url.split('?')[0]}")
        return 0
    finally:
        if driver is not None:
            driver.quit()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
