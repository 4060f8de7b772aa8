"""designspace status: what a result store holds (works while a sweep is writing it)."""


def register(sub):
    p = sub.add_parser("status", help="summarize a result store: counts by sweep/space/status, errors, progress")
    p.add_argument("db", help="RESULTS.db")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def _fmt(value, spec):
    return "-" if value is None else format(value, spec)


def format_summary(db: str, sweeps: list[dict]) -> str:
    if not sweeps:
        return f"{db}: no trials yet"
    lines = [f"{db}"]
    for sw in sweeps:
        plan = sw["planned"]
        todo = f", {plan - sw['stored']} to go" if plan is not None and plan > sw["stored"] else ""
        pct = f" ({100 * sw['stored'] / plan:.0f}%)" if plan else ""
        lines.append(f"sweep {sw['sweep']}: {sw['stored']} of {plan if plan is not None else '?'} planned stored"
                     f"{pct}{todo}  [done {sw['done']}, failed {sw['failed']}, diverged {sw['diverged']}]")
        if sw["spaces"]:
            lines.append(f"  {'space':<18} {'done':>5} {'failed':>6} {'diverged':>8} {'best err%':>9} "
                         f"{'median err%':>11} {'img/s':>7} {'cpu·min':>8}")
        for sp in sw["spaces"]:
            lines.append(f"  {sp['space']:<18} {sp['done']:>5} {sp['failed']:>6} {sp['diverged']:>8} "
                         f"{_fmt(sp['best_error'], '.2f'):>9} {_fmt(sp['median_error'], '.2f'):>11} "
                         f"{_fmt(sp['median_images_per_s'], '.0f'):>7} {sp['seconds'] / 60:>8.1f}")
    return "\n".join(lines)


def run(args):
    import json

    from ..store import summary

    sweeps = summary(args.db)
    print(json.dumps(sweeps) if args.json else format_summary(args.db, sweeps))
    return 0
