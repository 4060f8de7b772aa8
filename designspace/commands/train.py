"""designspace train: train one model, printing a line per epoch and its metrics."""


DESCRIPTION = (
    "Train one model on one CPU or GPU with the paper's recipe (SGD, cosine schedule) or your changes to "
    "it, showing progress within each epoch (with an estimate of the time left) and a line per epoch, "
    "then its top-1 test error, train loss and speed. A whole dataset takes minutes per epoch on a CPU: "
    "--train-size 5000 trains on a fixed subset, as the demo sweep does.")


def register(sub):
    p = sub.add_parser("train", help="train one model (SPEC.json) and print its metrics",
                       description=DESCRIPTION)
    p.add_argument("spec", help="SPEC.json, or a sample row / table of rows (.json, .jsonl, .csv, .parquet)")
    p.add_argument("--row", type=int, default=None, help="row number in a table of rows (needed when it has several)")
    p.add_argument("--id", default=None, help="the row of a table whose id is this")
    p.add_argument("--data", default=None, help="fashion-mnist | cifar10 | imagefolder | synthetic "
                   "(default: the regime's: fashion-mnist, or cifar10 for the cifar regime)")
    p.add_argument("--data-dir", default=None, help="dataset directory (default: the dataset's standard place)")
    p.add_argument("--regime", default=None, help="default: the row's own regime, else the dataset's "
                   "(fashion-mnist, cifar)")
    from ..train import Recipe

    # the recipe's own defaults, shown in --help; an option left unset leaves the recipe's value
    p.add_argument("--epochs", type=float, default=None, help=f"epochs, fractions allowed (default: {Recipe.epochs:g})")
    p.add_argument("--lr", type=float, default=None,
                   help=f"learning rate at batch 128, scaled linearly with --batch-size (default: {Recipe.lr:g})")
    p.add_argument("--batch-size", type=int, default=None, help=f"images per step (default: {Recipe.batch_size})")
    p.add_argument("--train-size", type=int, default=None,
                   help="train on a fixed random subset of this many images (default: the whole training set; "
                        "5000 trains a small model in about 10 s per epoch on one core)")
    p.add_argument("--test-size", type=int, default=None,
                   help="evaluate on a fixed random subset of this many images (default: the whole test set)")
    p.add_argument("--augment", action="store_true", help="random crop + flip")
    p.add_argument("--seed", type=int, default=0, help="seed of the initialisation and the batch order")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar within epochs (it shows only on a terminal anyway)")
    p.add_argument("--save", default=None, metavar="CHECKPOINT.pt",
                   help="save the trained weights (the file `designspace deploy` reads)")
    p.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    p.set_defaults(func=run)


def read_spec(path: str, row: int | None = None, id: str | None = None):
    """The model a file holds (a spec, or row `row` / id `id` of a sample table: a table of several
    rows needs one of them) and that row's own regime (None for a bare spec), bounded in size and
    checked to be buildable: one-line UsageError otherwise."""
    import os

    from ..errors import UsageError
    from ..limits import MAX_CONFIG_BYTES, check_spec
    from ..table import read_spec_row

    ext = os.path.splitext(path)[1].lower()
    try:
        too_big = ext == ".json" and os.path.getsize(path) > MAX_CONFIG_BYTES
    except OSError as exc:
        raise UsageError(f"cannot read spec file {path}: {exc.strerror}") from None
    if too_big:
        raise UsageError(f"spec file {path} is larger than {MAX_CONFIG_BYTES:,} bytes")
    try:
        found = read_spec_row(path, row=row, id=id)
    except UsageError as exc:
        raise UsageError(f"spec file {path}: {exc}" if path not in str(exc) else str(exc)) from None
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        raise UsageError(f"spec file {path} is not a valid spec: {str(exc).splitlines()[0][:160]}") from None
    if found["rows"] > 1 and row is None and id is None:  # as describe: training row 0 unasked would mislead
        last = found["rows"] - 1
        raise UsageError(f"{path} holds {found['rows']} models; pick one with --row N (0..{last}) or --id ID")
    check_spec(found["spec"], f"spec file {path}")
    return found["spec"], found["regime"]


class _Progress:
    """A progress bar over the training steps on stderr (steps, rate and the time left), shown only on
    a terminal; the per-epoch lines print above it."""

    def __init__(self, enabled: bool):
        self.enabled, self.bar = enabled, None

    def step(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            import sys

            from tqdm import tqdm

            # disable=None: off when stderr is not a terminal (a log file gets the epoch lines only)
            self.bar = tqdm(total=total, desc="training", unit="step", file=sys.stderr, disable=None,
                            dynamic_ncols=True, mininterval=0.5)
        self.bar.update(done - self.bar.n)

    def write(self, line: str) -> None:
        import sys

        if self.bar is not None and not self.bar.disable:
            self.bar.write(line, file=sys.stdout)
        else:
            print(line, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run(args):
    from ..data import load_dataset, training_dataset
    from ..train import default_threads, train
    from ..train.setup import training_regime

    spec, own_regime = read_spec(args.spec, row=args.row, id=args.id)
    regime = args.regime or own_regime
    data_name = training_dataset(args.data, args.regime, own_regime, where=args.spec)
    recipe = _recipe(args)
    _check_flags(args)
    data = load_dataset(data_name, args.data_dir)
    progress = _Progress(enabled=not (args.json or args.no_progress))

    def on_epoch(e):
        if not args.json:
            progress.write(f"epoch {e['epoch']}: train loss {e['train_loss']:.4f}  test error "
                           f"{e['test_error']:.2f}%  lr {e['lr']:.4g}  {e['seconds']:.1f} s")

    try:
        metrics = train(spec, recipe, data, regime=regime, seed=args.seed, threads=args.threads or default_threads(),
                        on_epoch=on_epoch, keep_state=args.save is not None, on_step=progress.step)
    finally:
        progress.close()
    state = metrics.pop("state_dict", None)
    used_regime = training_regime(regime, data.name).name
    if args.save is not None and metrics["status"] == "done" and state is not None:
        metrics["checkpoint"] = _save(args.save, spec, used_regime, state, metrics)
    metrics = {"spec_id": spec.id, "regime": used_regime, **metrics}
    _print(spec, metrics, args.json)
    return 0 if metrics["status"] == "done" else 1


def _recipe(args):
    """The recipe's defaults with the options given on the command line."""
    from ..train import Recipe

    overrides = {k: getattr(args, k) for k in ("epochs", "lr", "batch_size", "train_size", "test_size")
                 if getattr(args, k) is not None}
    if args.augment:
        overrides["augment"] = True
    return Recipe.from_dict(overrides)


def _check_flags(args) -> None:
    """--seed, --threads and --save, refused before the dataset is read."""
    import os

    from ..errors import UsageError
    from ..limits import SEED

    SEED.check(args.seed, "--seed")
    if args.threads is not None and args.threads <= 0:
        raise UsageError(f"--threads must be positive, got {args.threads}")
    if args.save is not None and (not args.save or "\0" in args.save or os.path.isdir(args.save)):
        raise UsageError(f"--save needs a file path, got {args.save!r}")


def _save(path, spec, regime: str, state, metrics) -> str:
    from ..errors import UsageError
    from ..safeload import save_checkpoint

    try:
        save_checkpoint(path, spec, regime, state, error=float(metrics["error"]), epochs=metrics["epochs"])
    except OSError as exc:
        raise UsageError(f"cannot write checkpoint {path}: {exc.strerror}") from None
    return path


def _print(spec, metrics: dict, as_json: bool) -> None:
    """One JSON object, or the summary line (the checkpoint and a stopped run's message below it)."""
    import json
    import sys

    if as_json:
        print(json.dumps(metrics))
        return
    err = "n/a" if metrics["error"] is None else f"{metrics['error']:.2f}%"
    loss = "n/a" if metrics["train_loss"] is None else f"{metrics['train_loss']:.4f}"
    print(f"{spec.space or 'model'} {spec.id}: {metrics['status']}  top-1 error {err}  train loss {loss}  "
          f"{metrics['epochs']:g} epoch(s) on {metrics['train_size']} images  {metrics['seconds']:.1f} s  "
          f"{metrics['images_per_s']:.0f} images/s  {metrics['device']}")
    if metrics.get("checkpoint"):
        print(f"checkpoint written to {metrics['checkpoint']}")
    if metrics.get("message"):
        print(metrics["message"], file=sys.stderr if metrics["status"] != "done" else sys.stdout)
