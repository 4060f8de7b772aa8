"""designspace status: what a result store holds (works while a sweep is writing it)."""


DESCRIPTION = (
    "Summarize result stores (also while a sweep writes them): per sweep, planned and stored trials, and "
    "per space the counts by status, the best and median error and the training speed. Reads only: it "
    "writes nothing, not even beside the store.")


def register(sub):
    from .population_args import add_population_args

    p = sub.add_parser("status", help="summarize result stores: counts by sweep/space/status, errors, progress",
                       description=DESCRIPTION)
    add_population_args(p, sources_help="result store (.db) or table (.csv/.parquet/.jsonl)")
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


def _table_summary(path: str, sweeps) -> list[dict]:
    """status of a tidy table: one pseudo-sweep per sweep value (or the file), counts per space."""
    import statistics

    from ..analysis.population import read_population

    df = read_population([path], sweeps)
    out = []
    keys = df["sweep"].fillna(path) if "sweep" in df else [path] * len(df)
    for name, g in df.groupby(keys, sort=True):
        spaces = []
        for sp, h in g.groupby("space", sort=True):
            errs = [e for e, st in zip(h["error"], h["status"]) if st == "done" and e == e]
            spaces.append({"space": sp, "done": int((h["status"] == "done").sum()),
                           "failed": int((h["status"] == "failed").sum()),
                           "diverged": int((h["status"] == "diverged").sum()), "stored": len(h),
                           "best_error": min(errs) if errs else None,
                           "median_error": statistics.median(errs) if errs else None,
                           "median_images_per_s": None, "seconds": 0.0})
        out.append({"sweep": name, "planned": None, "stored": len(g), "spaces": spaces,
                    **{k: sum(sp[k] for sp in spaces) for k in ("done", "failed", "diverged")}})
    return out


def select_sweeps(db: str, sweeps: list[dict], wanted) -> list[dict]:
    """The summaries of the named sweeps (`all` or None: every sweep); an unknown name is a UsageError."""
    from ..errors import UsageError

    if not wanted or "all" in wanted:
        return sweeps
    names = [s["sweep"] for s in sweeps]
    unknown = [w for w in wanted if w not in names]
    if unknown:
        raise UsageError(f"{db} has no sweep named {', '.join(unknown)} (it holds: {', '.join(names) or 'none'})")
    return [s for s in sweeps if s["sweep"] in wanted]


def run(args):
    import json
    import os

    from ..analysis.population import TABLE_EXTENSIONS
    from ..errors import UsageError
    from ..store import summary

    result = {}
    for src in args.sources:
        if not os.path.exists(src):
            raise UsageError(f"no result store at {src}")
        if os.path.isdir(src):
            raise UsageError(f"{src} is a directory, not a result store")
        if os.path.splitext(src)[1].lower() in TABLE_EXTENSIONS:
            result[src] = _table_summary(src, args.sweep)
        else:
            result[src] = select_sweeps(src, summary(src), args.sweep)
    if args.json:
        print(json.dumps(result[args.sources[0]] if len(args.sources) == 1 else result))
    else:
        print("\n".join(format_summary(src, sw) for src, sw in result.items()))
    return 0
