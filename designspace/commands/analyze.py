"""designspace analyze: figures, report.html and summary.json from result stores or tables."""


def _count(text: str) -> int:
    """An integer count that may be written 1000, 1e3 or 1_000 (validated against bounds later)."""
    from ..errors import UsageError

    try:
        value = float(str(text).replace("_", ""))
    except ValueError:
        raise UsageError(f"expected a whole number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")) or not float(value).is_integer():
        raise UsageError(f"expected a whole number, got {text!r}")
    return int(value)


DESCRIPTION = (
    "Compare the populations of result stores and tables (any mix; several sources side by side): error "
    "EDFs and complexity-normalized EDFs with bootstrap bands, KS tests, e_fit, trends of the best "
    "models, random-search efficiency and, for two budgets, proxy fidelity. Writes a self-contained "
    "report.html, summary.json, the figures and the numbers behind them (data/*.csv; data/models.csv "
    "reads back as a table). Tables: the columns `designspace sample` writes plus error, or nds's per-"
    "space JSON files (docs/tables.md). Reads the sources only.")


def register(sub):
    from ..limits import MAX_BOOT
    from .population_args import add_population_args

    p = sub.add_parser("analyze", help="analyse result stores or tables: EDFs, KS, e_fit, trends -> report.html",
                       description=DESCRIPTION)
    add_population_args(p)
    p.add_argument("--out", default=None, help="output folder (default: report/ beside the first source)")
    p.add_argument("--bootstrap", type=_count, default=1000,
                   help=f"bootstrap replicates, 10..{MAX_BOOT} (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    p.add_argument("--normalize", choices=("flops", "params", "none"), default="flops",
                   help="complexity the normalized EDF and the random-search draws control for (default flops)")
    p.add_argument("--bins", type=_count, default=10,
                   help="at most this many complexity bins for the normalized EDF (default 10)")
    p.add_argument("--min-per-bin", type=_count, default=3,
                   help="models every space needs in every bin; fewer bins otherwise, with a warning (default 3)")
    p.add_argument("--search-weights", choices=("normalized", "uniform"), default="normalized",
                   help="random-search efficiency draws models with the normalized weights (nds, default) or "
                        "uniformly")
    p.add_argument("--efit", choices=("logratio", "squared"), default="logratio",
                   help="e_fit: mean |log-ratio| of widths to the fit (the paper's, default) or its square")
    p.add_argument("--aggregate", choices=("mean", "median", "min"), default="mean",
                   help="how the errors of repeated trainings of one model combine (default mean)")
    p.add_argument("--top", type=_count, default=20, help="best models per space in the widths figure (default 20)")
    p.add_argument("--workers", type=int, default=None,
                   help="processes (default: 2 unless the cores are saturated); results do not depend on it")
    p.set_defaults(func=run)


def run(args):
    import os
    import sys

    from ..errors import UsageError

    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers needs a positive number, got {args.workers}")
    os.environ.setdefault("MPLBACKEND", "Agg")  # headless: figures are only written to files
    from ..report import Settings, write_report

    settings = Settings(normalize=args.normalize, max_bins=args.bins, min_per_bin=args.min_per_bin,
                        search_weights=args.search_weights, n_boot=args.bootstrap, seed=args.seed, efit=args.efit,
                        aggregate=args.aggregate, top=args.top, sweeps=tuple(args.sweep or ())).validate()
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.sources[0])), "report")
    summary = write_report(args.sources, out, workers=args.workers, sweeps=args.sweep, settings=settings)
    for text in summary["warnings"]:
        print(f"designspace: warning: {text}", file=sys.stderr)
    ranking = " > ".join(r["population"] for r in summary["ranking"])
    print(f"analysed {summary['n_models']} models ({summary['n_done']} finished of {summary['n_trials']} trials); "
          f"ranking (best first): {ranking}")
    print(f"report: {os.path.join(out, 'report.html')}")
    print(f"summary: {os.path.join(out, 'summary.json')}")
