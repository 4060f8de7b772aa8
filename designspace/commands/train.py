"""designspace train: train one model, printing a line per epoch and its metrics."""


def register(sub):
    p = sub.add_parser("train", help="train one model (SPEC.json) and print its metrics")
    p.add_argument("spec", help="SPEC.json (a spec, or a sample row holding one)")
    p.add_argument("--data", default="fashion-mnist", help="fashion-mnist | cifar10 | imagefolder | synthetic")
    p.add_argument("--data-dir", default=None, help="dataset directory (default: the dataset's standard place)")
    p.add_argument("--regime", default=None, help="default: the dataset's (fashion-mnist, cifar)")
    p.add_argument("--epochs", type=float, default=None)
    p.add_argument("--lr", type=float, default=None, help="learning rate at batch 128 (scaled linearly)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--train-size", type=int, default=None, help="train on a fixed subset of this many images")
    p.add_argument("--test-size", type=int, default=None, help="evaluate on a fixed subset of this many images")
    p.add_argument("--augment", action="store_true", help="random crop + flip")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    p.add_argument("--save", default=None, metavar="CHECKPOINT.pt",
                   help="save the trained weights (the file `designspace deploy` reads)")
    p.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    p.set_defaults(func=run)


def read_spec(path: str):
    """A spec file, bounded in size and checked to be buildable: one-line UsageError otherwise."""
    from ..errors import UsageError
    from ..limits import MAX_CONFIG_BYTES, check_spec
    from ..spec import load_spec

    try:
        if __import__("os").path.getsize(path) > MAX_CONFIG_BYTES:
            raise UsageError(f"spec file {path} is larger than {MAX_CONFIG_BYTES:,} bytes")
        with open(path, "rb") as fh:
            fh.read().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"spec file {path} is not UTF-8 JSON text (byte {exc.start})") from None
    except OSError as exc:
        raise UsageError(f"cannot read spec file {path}: {exc.strerror}") from None
    try:
        spec = load_spec(path)
    except UsageError as exc:
        raise UsageError(f"spec file {path}: {exc}") from None
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        raise UsageError(f"spec file {path} is not a valid spec: {str(exc).splitlines()[0][:160]}") from None
    check_spec(spec, f"spec file {path}")
    return spec


def run(args):
    import json
    import sys

    from ..data import load_dataset
    from ..errors import UsageError
    from ..limits import MAX_SEED, check_int
    from ..train import Recipe, default_threads, train

    spec = read_spec(args.spec)
    overrides = {k: getattr(args, k) for k in ("epochs", "lr", "batch_size", "train_size", "test_size")
                 if getattr(args, k) is not None}
    if args.augment:
        overrides["augment"] = True
    recipe = Recipe.from_dict(overrides)
    check_int(args.seed, "--seed", 0, MAX_SEED)
    if args.threads is not None and args.threads <= 0:
        raise UsageError(f"--threads must be positive, got {args.threads}")
    if args.save is not None and (not args.save or "\0" in args.save or __import__("os").path.isdir(args.save)):
        raise UsageError(f"--save needs a file path, got {args.save!r}")
    data = load_dataset(args.data, args.data_dir)

    def on_epoch(e):
        if not args.json:
            print(f"epoch {e['epoch']}: train loss {e['train_loss']:.4f}  test error {e['test_error']:.2f}%  "
                  f"lr {e['lr']:.4g}  {e['seconds']:.1f} s", flush=True)

    metrics = train(spec, recipe, data, regime=args.regime, seed=args.seed, threads=args.threads or default_threads(),
                    on_epoch=on_epoch, keep_state=args.save is not None)
    state = metrics.pop("state_dict", None)
    if args.save is not None and metrics["status"] == "done" and state is not None:
        from ..regimes import get_regime
        from ..data import DATASET_REGIME
        from ..safeload import save_checkpoint

        regime = get_regime(args.regime or DATASET_REGIME.get(data.name, "fashion-mnist")).name
        try:
            save_checkpoint(args.save, spec, regime, state, error=float(metrics["error"]), epochs=metrics["epochs"])
        except OSError as exc:
            raise UsageError(f"cannot write checkpoint {args.save}: {exc.strerror}") from None
        metrics["checkpoint"] = args.save
    metrics = {"spec_id": spec.id, **metrics}
    if args.json:
        print(json.dumps(metrics))
        return 0 if metrics["status"] == "done" else 1
    err = "n/a" if metrics["error"] is None else f"{metrics['error']:.2f}%"
    loss = "n/a" if metrics["train_loss"] is None else f"{metrics['train_loss']:.4f}"
    print(f"{spec.space or 'model'} {spec.id}: {metrics['status']}  top-1 error {err}  train loss {loss}  "
          f"{metrics['epochs']:g} epoch(s) on {metrics['train_size']} images  {metrics['seconds']:.1f} s  "
          f"{metrics['images_per_s']:.0f} images/s  {metrics['device']}")
    if metrics.get("checkpoint"):
        print(f"checkpoint written to {metrics['checkpoint']}")
    if metrics.get("message"):
        print(metrics["message"], file=sys.stderr if metrics["status"] != "done" else sys.stdout)
    return 0 if metrics["status"] == "done" else 1
