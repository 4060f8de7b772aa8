"""designspace refine: rank candidate refinements of a trained population's space; write the best as a space file."""

TABLE_COLUMNS = ("rank", "candidate", "n_kept", "share_kept", "mean_shift", "q25_shift", "p_adjusted", "improves")


DESCRIPTION = (
    "Rank candidate constraints on a trained population's space (each parameter's values and ranges, "
    "shared b and g, growing widths and depths, low e_fit, and your --try expressions) by how much the "
    "models they keep improve on the rest: shift of the error EDF with bootstrap intervals and a KS test "
    "corrected for multiple comparisons. With --out, the best refinement is written as a space file to "
    "sweep next.")


def register(sub):
    from .population_args import add_population_args

    p = sub.add_parser("refine", help="rank candidate refinements (constraints) of a trained population's space",
                       description=DESCRIPTION)
    add_population_args(p, sources_help="result store (.db) or tidy table (.csv/.parquet/.jsonl with the columns "
                                        "`designspace sample` writes plus error)")
    p.add_argument("--space", default=None,
                   help="which space's models to refine (needed when the population holds several)")
    p.add_argument("--try", dest="tries", action="append", default=[], metavar="EXPR",
                   help="a constraint to evaluate too, e.g. \"wm >= 2\" (repeatable)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="write refine.csv, refine.json, refine_edf.png and the best refinement as refined_space.yaml")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--top", type=int, default=15, help="rows of the terminal table (default 15)")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples of the models (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    p.add_argument("--min-models", type=int, default=20,
                   help="skip candidates keeping or leaving fewer models (default 20)")
    p.add_argument("--alpha", type=float, default=0.05, help="level of the adjusted KS test (default 0.05)")
    p.add_argument("--correction", choices=("holm", "bh"), default="holm",
                   help="multiple-comparison correction: holm (family-wise error, default) "
                        "or bh (false discovery rate)")
    p.set_defaults(func=run)


def _interval(est, lo, hi) -> str:
    if est != est:  # NaN: skipped
        return "-"
    return f"{est:+.2f} [{lo:+.2f}, {hi:+.2f}]"


def format_table(table, method: dict, top: int) -> str:
    pop = method["population"]
    lines = [
        f"refine {pop['space'] or 'population'}: {pop['models']} models ({pop['trials']} trials), "
        f"{int((table['status'] == 'tested').sum())} candidates tested, "
        f"{int(table['improves'].sum())} improve",
        f"  shift = refined - rest (error points, negative = better); intervals: {method['interval']}",
        f"  KS p adjusted: {method['correction']}; improves = {method['improves']}",
    ]
    for note in method["notes"]:
        lines.append(f"  note: {note}")
    head = f"{'rank':>4}  {'candidate':<34} {'kept':>6} {'share':>6}  {'mean shift [CI]':<24} " \
           f"{'q25 shift [CI]':<24} {'p_adj':>8}  improves"
    lines.append(head)
    tested = table[table["status"] == "tested"]
    for r in tested.head(max(top, 0)).itertuples():
        lines.append(f"{int(r.rank):>4}  {r.candidate:<34} {r.n_kept:>6} {r.share_kept:>6.1%}  "
                     f"{_interval(r.mean_shift, r.mean_shift_lo, r.mean_shift_hi):<24} "
                     f"{_interval(r.q25_shift, r.q25_shift_lo, r.q25_shift_hi):<24} "
                     f"{r.p_adjusted:>8.2g}  {'yes' if r.improves else ''}")
    if len(tested) > top:
        lines.append(f"  ... {len(tested) - top} more (--top, --json or --out for all)")
    for r in table[table["status"] != "tested"].itertuples():
        lines.append(f"     {r.candidate:<34} {r.status}")
    return "\n".join(lines)


def result_json(table, method: dict, space_file=None) -> dict:
    import json

    return {"method": method, "space_file": space_file, "candidates": json.loads(table.to_json(orient="records"))}


def run(args):
    from ..analysis.refine import best_refinement

    check_args(args)
    pop, table = rank(args)
    method = table.attrs["method"]
    best = best_refinement(table)
    space_file, written = write_outputs(args.out, pop, table, best) if args.out is not None else (None, [])
    if args.json:
        import json

        print(json.dumps(result_json(table, method, space_file)))
    else:
        print(summary(table, method, args, best, space_file, written))
    return 0


def check_args(args) -> None:
    """Every argument checked before a file is read (UsageError: one line, exit 2)."""
    import os

    from ..errors import UsageError

    if args.bootstrap < 10:
        raise UsageError(f"--bootstrap needs at least 10 resamples, got {args.bootstrap}")
    if args.top < 0:
        raise UsageError(f"--top needs a non-negative number, got {args.top}")
    if not 2 <= args.min_models:
        raise UsageError(f"--min-models needs at least 2, got {args.min_models}")
    if not 0 < args.alpha < 1:
        raise UsageError(f"--alpha must lie strictly between 0 and 1, got {args.alpha}")
    if args.out is not None and os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UsageError(f"--out {args.out} exists and is not a directory")


def rank(args):
    """Read the population, generate its candidates and rank them -> (population, ranked table); refine's
    warnings (skipped candidates, notes on the population) go to stderr as designspace warnings."""
    import sys
    import warnings

    from ..analysis import refine as R
    from ..analysis.population import read_population

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pop = R.prepare(read_population(args.sources, args.sweep), space=args.space)
        for note in pop.notes:
            warnings.warn(f"refine: {note}")
        table = R.rank_candidates(pop, R.candidates(pop, tries=args.tries), min_models=args.min_models,
                                  n_boot=args.bootstrap, alpha=args.alpha, correction=args.correction,
                                  seed=args.seed)
    for w in caught:
        if issubclass(w.category, UserWarning) and str(w.message).startswith("refine:"):
            print(f"designspace: warning: {str(w.message).removeprefix('refine: ')}", file=sys.stderr)
    return pop, table


def write_outputs(out: str, pop, table, best) -> tuple[str | None, list[str]]:
    """refine.csv, refine_edf.png, refined_space.yaml (when a refinement improves and a space file can
    hold it) and refine.json in `out` -> (the space file or None, the paths written)."""
    import json
    import os
    import sys

    from ..analysis import refine as R
    from ..errors import UsageError

    os.makedirs(out, exist_ok=True)
    written = [os.path.join(out, "refine.csv")]
    table.to_csv(written[-1], index=False)
    os.environ.setdefault("MPLBACKEND", "Agg")
    written.append(os.path.join(out, "refine_edf.png"))
    R.plot_refinements(pop, table).savefig(written[-1], dpi=90)
    space_file = None
    if best is not None:
        try:
            definition = R.refined_definition(pop, best.candidate)
        except UsageError as exc:
            print(f"designspace: warning: no space file written: {exc}", file=sys.stderr)
        else:
            space_file = write_space_file(definition, os.path.join(out, "refined_space.yaml"))
            written.append(space_file)
    written.append(os.path.join(out, "refine.json"))
    with open(written[-1], "w") as fh:
        json.dump(result_json(table, table.attrs["method"], space_file), fh, indent=1)
    return space_file, written


def summary(table, method: dict, args, best, space_file, written) -> str:
    """The terminal output: the table, the best refinement (or that none improves), the files written."""
    lines = [format_table(table, method, args.top)]
    if best is None:
        lines.append("no candidate improves the space at this level" + ("; no space file written" if args.out else ""))
    elif args.out is not None:
        lines.append(f"best refinement: {best.candidate}" + (f" -> {space_file}" if space_file else ""))
    lines += [f"wrote {path}" for path in written]
    return "\n".join(lines)


def write_space_file(definition: dict, path: str) -> str:
    """Write a space definition as YAML (atomically) and check that get_space() loads the file."""
    import os

    import yaml

    from ..errors import UsageError
    from ..spaces import get_space

    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(yaml.safe_dump(definition, sort_keys=False, allow_unicode=True))
    os.replace(tmp, path)
    try:
        get_space(path)
    except UsageError as exc:
        os.remove(path)
        raise UsageError(f"the refined space file does not load: {exc}") from None
    return path
