"""designspace train: train one model and print its metrics."""


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
    p.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    p.set_defaults(func=run)


def run(args):
    import json

    from ..data import load_dataset
    from ..errors import UsageError
    from ..spec import load_spec
    from ..train import Recipe, default_threads, train

    spec = load_spec(args.spec)
    overrides = {k: getattr(args, k) for k in ("epochs", "lr", "batch_size", "train_size", "test_size")
                 if getattr(args, k) is not None}
    if args.augment:
        overrides["augment"] = True
    recipe = Recipe.from_dict(overrides)
    if args.threads is not None and args.threads <= 0:
        raise UsageError(f"--threads must be positive, got {args.threads}")
    data = load_dataset(args.data, args.data_dir)
    metrics = train(spec, recipe, data, regime=args.regime, seed=args.seed, threads=args.threads or default_threads())
    metrics = {"spec_id": spec.id, **metrics}
    if args.json:
        print(json.dumps(metrics))
        return 0 if metrics["status"] == "done" else 1
    err = "n/a" if metrics["error"] is None else f"{metrics['error']:.2f}%"
    loss = "n/a" if metrics["train_loss"] is None else f"{metrics['train_loss']:.4f}"
    print(f"{spec.space or 'model'} {spec.id}: {metrics['status']}  top-1 error {err}  train loss {loss}  "
          f"{metrics['epochs']:g} epoch(s) on {metrics['train_size']} images  {metrics['seconds']:.1f} s  "
          f"{metrics['images_per_s']:.0f} images/s  {metrics['device']}")
    if metrics.get("message"):
        print(metrics["message"])
    return 0 if metrics["status"] == "done" else 1
