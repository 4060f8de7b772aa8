"""designspace analyze: figures, report.html and summary.json from a result store."""


def register(sub):
    p = sub.add_parser("analyze", help="analyse a result store: EDFs, KS, e_fit, trends -> report.html")
    p.add_argument("db", metavar="RESULTS.db", help="result store written by `designspace sweep`")
    p.add_argument("--out", default=None, help="output folder (default: report/ beside the store)")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap replicates (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    p.add_argument("--workers", type=int, default=None,
                   help="processes (default: 2 unless the cores are saturated); results do not depend on it")
    p.set_defaults(func=run)


def run(args):
    import os

    from ..errors import UsageError

    if args.bootstrap < 10:
        raise UsageError(f"--bootstrap needs at least 10 replicates, got {args.bootstrap}")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers needs a positive number, got {args.workers}")
    os.environ.setdefault("MPLBACKEND", "Agg")  # headless: figures are only written to files
    from ..report import write_report

    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.db)), "report")
    summary = write_report(args.db, out, n_boot=args.bootstrap, seed=args.seed, workers=args.workers)
    ranking = " > ".join(r["space"] for r in summary["ranking"])
    print(f"analysed {summary['n_done']} of {summary['n_trials']} trials; ranking (best first): {ranking}")
    print(f"report: {os.path.join(out, 'report.html')}")
    print(f"summary: {os.path.join(out, 'summary.json')}")
