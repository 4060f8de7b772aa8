"""designspace sweep: train every model of the configured spaces as Ray tasks (resumable).

Exit status: 0 when every planned trial is stored as done or diverged, 1 when some failed or timed
out (their count and first messages are printed; `--retry-failed` reruns them), 2 on bad input."""


DESCRIPTION = (
    "Sample the config's spaces and train every model as a Ray task (a private local cluster, or a "
    "running one with --address), storing each finished trial in the config's SQLite store as it lands. "
    "Rerunning the same command resumes: stored trials are not trained again. Exit status 1 when trials "
    "failed or timed out (--retry-failed reruns them), 130 on Ctrl-C (rerun to resume).")


def register(sub):
    p = sub.add_parser("sweep", help="sample the configured spaces and train every model on Ray (resumes)",
                       description=DESCRIPTION)
    p.add_argument("config", help="experiments/NAME.yaml")
    p.add_argument("--address", default=None,
                   help="join a running Ray cluster: HOST:PORT (from `ray start --head`), ray://HOST:PORT, or "
                        "auto (the cluster `ray start` recorded on this machine); default: a private local one")
    p.add_argument("--gpus-per-trial", type=float, default=None, help="override resources.gpus (fractional)")
    p.add_argument("--cpus-per-trial", type=float, default=None, help="override resources.cpus")
    p.add_argument("--timeout", type=float, default=None, help="override timeout (seconds per trial)")
    p.add_argument("--store", default=None, help="override the config's store path")
    p.add_argument("--data-dir", default=None, help="override dataset.dir")
    p.add_argument("--retry-failed", action="store_true", help="also rerun trials stored as failed or timeout")
    p.add_argument("--new-plan", action="store_true",
                   help="the config changed on purpose: plan again, keeping the old plan's rows as sweep NAME~N")
    p.add_argument("--resume", action="store_true",
                   help="skip trials already in the store (always on: a rerun resumes; accepted for clarity)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _flag(value, flag, kind):
    """A flag that overrides a config key, checked as the config's schema checks that key."""
    from ..schema import check

    return None if value is None else check(kind, value, flag)


def run(args):
    from ..errors import UsageError
    from ..sweep import check_resources, load_config, run_sweep
    from ..sweep.config import Cpus, Gpus, Timeout

    cfg = load_config(args.config)
    gpus = _flag(args.gpus_per_trial, "--gpus-per-trial", Gpus)
    cpus = _flag(args.cpus_per_trial, "--cpus-per-trial", Cpus)
    if gpus is not None:
        if gpus > 1 and not gpus.is_integer():
            raise UsageError(f"--gpus-per-trial must be a fraction in [0, 1] or a whole number, got {gpus:g}")
        cfg.gpus = gpus
    if cpus is not None:
        cfg.cpus = cpus
    check_resources(cfg.cpus, cfg.gpus)
    timeout = _flag(args.timeout, "--timeout", Timeout)
    if timeout is not None:
        cfg.timeout = timeout
    if args.store:
        if "\0" in args.store:
            raise UsageError("--store must be a path")
        cfg.store = args.store
    counts = run_sweep(cfg, address=args.address, data_dir=args.data_dir, progress=not args.no_progress,
                       retry_failed=args.retry_failed, new_plan=args.new_plan)
    return 1 if counts["failed"] + counts["timeout"] + counts["left_failed"] else 0
