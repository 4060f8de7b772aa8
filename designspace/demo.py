"""`make demo`: sample and describe real spaces (the sweep and report replace this once they land)."""
from __future__ import annotations

import os
import sys

from .cli import main as cli


def main() -> int:
    os.makedirs("results/demo", exist_ok=True)
    for space in ("AnyNetXA", "AnyNetXE", "RegNetX"):
        out = f"results/demo/{space}.jsonl"
        rc = cli(["sample", "--space", space, "-n", "100", "--regime", "fashion-mnist", "--out", out])
        if rc:
            return rc
        print(f"sampled 100 {space} models in the fashion-mnist band -> {out}")
    print("\nRegNetX-200MF from its parameters:")
    return cli(["describe", "--regnet", "13,24,36.44,2.49,8"])


if __name__ == "__main__":
    sys.exit(main())
