"""designspace sample: draw models from a space inside a flops band."""


def register(sub):
    p = sub.add_parser("sample", help="sample models from a design space inside a flops band")
    p.add_argument("--space", default="AnyNetXE", help="design space name (see `designspace spaces`)")
    p.add_argument("-n", type=int, default=500, help="number of models (default 500)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--flops", default=None, help="band LOW:HIGH, e.g. 360M:400M (default: the regime's)")
    p.add_argument("--regime", default="imagenet", help="imagenet | cifar | fashion-mnist")
    p.add_argument("--out", default=None, help="FILE.jsonl (default: stdout), .csv or .parquet")
    p.set_defaults(func=run)


def run(args):
    from ..regimes import get_regime
    from ..spaces import get_space
    from ..table import spec_rows, write_rows

    regime = get_regime(args.regime)
    space = get_space(args.space)
    draw, cx = space.sample_arrays(args.n, seed=args.seed, flops=args.flops, regime=regime)
    specs = space.specs_from(draw)
    write_rows(spec_rows(specs, cx, regime.name), args.out)
