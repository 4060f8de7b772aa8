"""Each claim of a `reproduce` results folder: its current effect, interval and verdict.

claims.json holds the verdicts of the last `designspace reproduce` run. While its sweeps still
write, the dashboard judges the claims again on the stores as they are (the suite's own rules,
through designspace.claims), when it finds the suite file that claims.json names; otherwise it
shows claims.json as written, and says so.
"""
from __future__ import annotations

import math
import os
import time

from ..errors import UsageError


def _num(v):
    return v if isinstance(v, (int, float)) and math.isfinite(v) else None


def _part(p: dict) -> dict:
    eff = p.get("effect") or {}
    return {"name": p.get("name"), "verdict": p.get("verdict"), "rule": p.get("rule"),
            "estimate": _num(eff.get("estimate")), "lo": _num(eff.get("lo")), "hi": _num(eff.get("hi")),
            "level": _num(eff.get("level")), "n": eff.get("n") or {}, "unit": eff.get("unit"),
            "missing": list(p.get("missing") or [])}


def claims_view(result: dict) -> list[dict]:
    """The claims of a judged result (claims.json or designspace.claims.judge), as the page shows them."""
    return [{"id": c.get("id"), "text": c.get("text"), "figure": c.get("figure"), "verdict": c.get("verdict"),
             "skip": c.get("skip") or "", "missing": list(c.get("missing") or []),
             "parts": [_part(p) for p in c.get("parts") or []]} for c in result.get("claims", [])]


def find_suite_file(folder: str, suite_file: str | None) -> str | None:
    """The suite file claims.json names (a path relative to where reproduce ran): as given, or below
    one of the folder's ancestors (the repository the results folder lives in)."""
    if not suite_file:
        return None
    if os.path.isabs(suite_file):
        return suite_file if os.path.isfile(suite_file) else None
    if os.path.isfile(suite_file):
        return os.path.abspath(suite_file)
    probe = os.path.abspath(folder)
    while True:
        candidate = os.path.join(probe, suite_file)
        if os.path.isfile(candidate):
            return candidate
        parent = os.path.dirname(probe)
        if parent == probe:
            return None
        probe = parent


def judge_folder(folder: str, result: dict) -> dict:
    """{source: "live" | "stored", note, judged_at, claims}: the claims judged now on the folder's
    stores (read-only) when the suite file is found and valid, else claims.json as written."""
    stored = {"source": "stored", "judged_at": None, "claims": claims_view(result),
              "note": f"as written by designspace reproduce ({(result.get('run') or {}).get('date', 'date unknown')})"}
    suite_path = find_suite_file(folder, result.get("suite_file"))
    if suite_path is None:
        stored["note"] += f"; the suite file {result.get('suite_file')!r} was not found, so nothing is re-judged"
        return stored
    from ..claims import load_suite
    from ..claims.judge import Stores, judge_part
    from ..claims.statistics import NOT_RUN, combine

    try:
        suite = load_suite(suite_path)
        claims = suite.select([c["id"] for c in result.get("claims", []) if isinstance(c.get("id"), int)])
    except UsageError as exc:
        stored["note"] += f"; the suite file cannot be read now ({exc})"
        return stored
    # Stores and judge_part, not judge(): judge() also counts each sweep's rows, which the page has already
    stores = Stores(suite, os.path.dirname(os.path.abspath(folder)))
    if suite.schema >= 2 and suite.rules.schedule.kind == "sequential":
        stored["note"] += ("; a sequential suite is decided at its declared looks (designspace reproduce), "
                           "not between them, so the verdicts shown are the stored ones")
        return stored
    if suite.schema >= 2:  # the suite's own rules: pairing, complexity control, multiplicity over the whole suite
        from ..claims.decide import judge_suite

        shown = {c.id for c in claims}
        judged = [c for c in judge_suite(stores, suite.claims, suite.seed) if c["id"] in shown]
        return {"source": "live", "judged_at": time.time(), "claims": claims_view({"claims": judged}),
                "note": f"judged now on the stores as they are, by the rules of {result.get('suite_file')}: where a "
                        f"sweep is still running, its claims show their current effect and an interim verdict "
                        f"(reproduce judges them once the sweep is complete)"}
    judged = []
    for claim in claims:
        entry = {"id": claim.id, "text": claim.text, "figure": claim.figure}
        if claim.skip:
            entry.update(verdict=NOT_RUN, skip=claim.skip, parts=[], missing=[f"not run at this tier: {claim.skip}"])
        else:
            parts = [judge_part(stores, claim, i, p) for i, p in enumerate(claim.parts)]
            entry.update(parts=parts, verdict=combine([p["verdict"] for p in parts]),
                         missing=list(dict.fromkeys(m for p in parts for m in p.get("missing", []))))
        judged.append(entry)
    return {"source": "live", "judged_at": time.time(), "claims": claims_view({"claims": judged}),
            "note": f"judged now on the stores by the rules of {result.get('suite_file')}"}
