"""designspace sweep: train every model of the configured spaces as Ray tasks (resumable)."""


def register(sub):
    p = sub.add_parser("sweep", help="sample the configured spaces and train every model on Ray (resumes)")
    p.add_argument("config", help="experiments/NAME.yaml")
    p.add_argument("--address", default=None,
                   help="join an existing Ray cluster: auto | ray://HOST:PORT (default: start a local one)")
    p.add_argument("--gpus-per-trial", type=float, default=None, help="override resources.gpus (fractional)")
    p.add_argument("--cpus-per-trial", type=float, default=None, help="override resources.cpus")
    p.add_argument("--store", default=None, help="override the config's store path")
    p.add_argument("--data-dir", default=None, help="override dataset.dir")
    p.add_argument("--resume", action="store_true",
                   help="skip trials already in the store (always on: a rerun resumes; accepted for clarity)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args):
    from ..errors import UsageError
    from ..sweep import load_config, run_sweep

    cfg = load_config(args.config)
    if args.gpus_per_trial is not None:
        if args.gpus_per_trial < 0 or (args.gpus_per_trial > 1 and not args.gpus_per_trial.is_integer()):
            raise UsageError(f"--gpus-per-trial must be a fraction in [0, 1] or a whole number, "
                             f"got {args.gpus_per_trial:g}")
        cfg.gpus = args.gpus_per_trial
    if args.cpus_per_trial is not None:
        if args.cpus_per_trial < 0:
            raise UsageError(f"--cpus-per-trial must be >= 0, got {args.cpus_per_trial:g}")
        cfg.cpus = args.cpus_per_trial
    if cfg.cpus <= 0 and cfg.gpus <= 0:
        raise UsageError("a trial needs cpus > 0 or gpus > 0")
    if args.store:
        cfg.store = args.store
    counts = run_sweep(cfg, address=args.address, data_dir=args.data_dir, progress=not args.no_progress)
    return 0 if counts["done"] + counts["failed"] + counts["diverged"] + counts["skipped"] == counts["planned"] else 1
