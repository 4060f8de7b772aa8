"""The paper's claims as a suite with pre-registered verdicts: `designspace reproduce SUITE.yaml`.

    load_suite(path) -> Suite        validate a suite file (sweeps, statistics, rules)
    judge(suite, claims) -> dict     every claim's effect, interval, n per arm and verdict, from stores
    reproduce(path, ...) -> dict     run the missing sweeps (designspace.sweep.run_sweep), judge, write
                                     claims.json / claims.md / report.html
    STATISTICS, verdict, combine     the statistics registry and the verdict rules (statistics.py)
"""
from __future__ import annotations

from .judge import judge
from .run import reproduce
from .statistics import STATISTICS, combine, compute, verdict
from .suite import Suite, load_suite, parse_suite

__all__ = ["load_suite", "parse_suite", "Suite", "judge", "reproduce", "STATISTICS", "compute", "verdict", "combine"]
