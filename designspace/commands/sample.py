"""designspace sample: draw models from a space inside a flops band."""


DESCRIPTION = (
    "Draw models from a design space, keeping those whose flops fall in the band (rejection sampling, "
    "seeded: the same seed gives the same models). Each row holds the model's id, per-stage widths, "
    "depths, strides, bottleneck ratios and group widths, its RegNet parameters where it has them, flops,"
    " params, acts and the spec as JSON; rows go to stdout as JSON lines, or to --out as .jsonl, .csv or "
    ".parquet.")


def register(sub):
    p = sub.add_parser("sample", help="sample models from a design space inside a flops band",
                       description=DESCRIPTION)
    p.add_argument("--space", default="AnyNetXE",
                   help="a space name (see `designspace spaces`), a space file (.yaml), or an inline "
                        "refinement such as 'RegNetX[wm=2]' or 'AnyNetXE[b=1,g>=8]+csp'")
    p.add_argument("-n", type=int, default=500, help="number of models (default 500)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed, an integer >= 0 (default 0)")
    p.add_argument("--flops", default=None, help="band LOW:HIGH, e.g. 360M:400M (default: the regime's)")
    p.add_argument("--regime", default="imagenet",
                   help="imagenet | cifar | fashion-mnist, optionally at another input size: imagenet@160")
    p.add_argument("--out", default=None, help="FILE.jsonl (default: stdout), .csv or .parquet")
    p.set_defaults(func=run)


def run(args):
    from ..regimes import get_regime
    from ..spaces import get_space
    from ..spaces.base import check_seed
    from ..table import spec_rows, write_rows

    regime = get_regime(args.regime)
    check_seed(args.seed)
    space = get_space(args.space)
    draw, cx = space.sample_arrays(args.n, seed=args.seed, flops=args.flops, regime=regime)
    specs = space.specs_from(draw)
    write_rows(spec_rows(specs, cx, regime.name), args.out)
    if args.out not in (None, "-"):  # stdout holds no rows: say where they went
        import sys

        lo, hi = (f"{v / 1e6:.3g}M" for v in (cx["flops"].min(), cx["flops"].max())) if len(specs) else ("-", "-")
        plural = "" if len(specs) == 1 else "s"
        print(f"wrote {len(specs)} model{plural} of {space.name} ({regime.name}, flops {lo} to {hi}) to {args.out}",
              file=sys.stderr)
