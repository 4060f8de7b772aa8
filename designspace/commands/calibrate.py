"""designspace calibrate: train one fixed sample of models at a grid of budgets and a long reference,
then report each budget's cost, rank fidelity, reliability and compute to decide an effect.

Exit status: 0 when every sweep finished and the report was written, 1 when trials failed (the report
is still written from what finished), 2 on bad input."""


def register(sub):
    p = sub.add_parser("calibrate", help="calibrate a proxy budget against a long reference (resumable)",
                       description="Train the config's fixed sample of models once per budget (one ordinary, "
                                   "resumable sweep each), then report per budget: measured cost, rank fidelity "
                                   "to the reference, reliability (seed and test-set noise against the spread) "
                                   "and the compute needed to decide the declared effects; recommends the "
                                   "cheapest budget to decide among those that clear the fidelity bar.")
    p.add_argument("config", help="a calibration config (YAML), e.g. experiments/paper/calibration_cpu.yaml")
    p.add_argument("--analyze-only", action="store_true", help="train nothing; report on the stored trials")
    p.add_argument("--out", default=None, help="folder for calibration.json/.md/.png (default: the store_dir)")
    p.add_argument("--address", default=None,
                   help="Ray cluster to join (auto | HOST:PORT | ray://HOST:PORT, as `designspace sweep`); "
                        "default: a private local one")
    p.add_argument("--data-dir", default=None, help="override dataset.dir")
    p.add_argument("--probe-cost", action="store_true",
                   help="also time each space's first model per training and test image on one thread and scale "
                        "to every budget (short; rerun on an idle core when the sweeps shared the machine)")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args):
    import json
    import sys

    from ..calibration.config import load_calibration
    from ..calibration.run import run_calibration

    cfg = load_calibration(args.config)
    failed = 0
    if not args.analyze_only:
        ran = run_calibration(cfg, address=args.address, data_dir=args.data_dir, progress=not args.no_progress)
        failed = ran["failed"]
        print(f"calibrate {cfg.name}: sweeps finished in {ran['seconds']:.0f} s", file=sys.stderr)
    from ..calibration.analysis import calibrate_report

    probe = None
    if args.probe_cost:
        from ..calibration.cost import probe as probe_cost

        probe = probe_cost(cfg, args.data_dir)
    result = calibrate_report(cfg, out=args.out or cfg.store_dir, command=" ".join(sys.argv), probe=probe)
    if args.json:
        print(json.dumps(result, indent=2, default=float))
    else:
        print(result["summary"])
    return 1 if failed else 0
