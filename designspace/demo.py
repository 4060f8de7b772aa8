"""`make demo`: a real sweep on Fashion-MNIST (experiments/demo.yaml: AnyNetXA, AnyNetXE, RegNetX),
then the report under results/demo/. Rerunning resumes: stored trials are not trained again."""
from __future__ import annotations

import os
import sys
import time

from .cli import main as cli

CONFIG = os.path.join("experiments", "demo.yaml")
OUT_DIR = os.path.join("results", "demo")


def main() -> int:
    from .sweep import load_config

    started = time.time()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    config = CONFIG if os.path.exists(CONFIG) else os.path.join(root, CONFIG)
    db = load_config(config).store
    rc = cli(["sweep", config])
    if rc not in (0, 1):  # 1: some trials failed; they are stored and the report shows them
        return rc
    print()
    cli(["status", db])
    try:
        from .report import write_report
    except ImportError:  # the report module is not part of this install yet
        print("\n(designspace.report is not available: the store summary above is the demo's report)")
    else:
        write_report(db, OUT_DIR)
        print(f"\nreport: {os.path.join(OUT_DIR, 'report.html')} (open it in a browser; figures and their "
              f"numbers beside it)")
    print(f"demo finished in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
