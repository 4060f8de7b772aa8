"""designspace describe: per-stage table and totals of one model."""
import json

DESCRIPTION = (
    "Print one model's per-stage table (depth, width, stride, bottleneck ratio, group width, flops, "
    "params, acts) and its totals: a spec file, a row of a sample table (built for its own regime), or a "
    "RegNet given by its parameters (--regnet d,w0,wa,wm,g). --json prints the same as one object.")


def register(sub):
    p = sub.add_parser("describe", help="per-stage table and totals of one model",
                       description=DESCRIPTION)
    p.add_argument("spec", nargs="?", help="SPEC.json (a spec, or a sample row holding one), or a table of sample "
                                           "rows (.jsonl, .csv, .parquet)")
    p.add_argument("--row", type=int, default=None, help="row number in a table of rows (needed when it has several)")
    p.add_argument("--id", default=None, help="the row of a table whose id is this")
    p.add_argument("--regnet", help="d,w0,wa,wm,g[,se]: a RegNet from its parameters (g = group width)")
    p.add_argument("--bottleneck", type=float, default=1.0, help="bottleneck ratio b for --regnet (default 1)")
    p.add_argument("--regime", default=None,
                   help="imagenet | cifar | fashion-mnist (default: the row's own regime, else imagenet)")
    p.add_argument("--json", action="store_true", help="print the machine-readable object")
    p.add_argument("--gradient-paths", action="store_true",
                   help="per-layer shortest/longest gradient path lengths (seed family I)")
    p.set_defaults(func=run)


def parse_regnet(text: str, bottleneck: float):
    from ..errors import UsageError
    from ..spaces.regnet import regnet_spec

    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) not in (5, 6):
        raise UsageError(f"--regnet needs d,w0,wa,wm,g[,se]; got {text!r}")
    try:
        d, w0, wa, wm, g = int(parts[0]), float(parts[1]), float(parts[2]), float(parts[3]), int(parts[4])
        se = float(parts[5]) if len(parts) == 6 else 0.0
    except ValueError:
        raise UsageError(f"--regnet needs numbers d,w0,wa,wm,g[,se]; got {text!r}") from None
    w0 = int(w0) if w0.is_integer() else w0
    space = "RegNetY" if se else "RegNetX"
    return regnet_spec(d, w0, wa, wm, g, bottleneck, se, space=space)


def run(args):
    from ..complexity import complexity
    from ..errors import UsageError
    from ..regimes import get_regime
    from ..table import read_spec_row, spec_row

    if (args.spec is None) == (args.regnet is None):
        raise UsageError("describe needs exactly one of SPEC.json or --regnet d,w0,wa,wm,g[,se]")
    if args.bottleneck <= 0:
        raise UsageError(f"--bottleneck must be positive, got {args.bottleneck:g}")
    if args.regnet and (args.row is not None or args.id is not None):
        raise UsageError("--row and --id pick a row of a file; they do not go with --regnet")
    if args.regnet:
        spec, own_regime = parse_regnet(args.regnet, args.bottleneck), None
    else:
        found = read_spec_row(args.spec, row=args.row, id=args.id)
        if found["rows"] > 1 and args.row is None and args.id is None:
            last = found["rows"] - 1
            raise UsageError(f"{args.spec} holds {found['rows']} models; pick one with --row N (0..{last}) or --id ID")
        spec, own_regime = found["spec"], found["regime"]
    regime = get_regime(args.regime or own_regime or "imagenet")
    if args.gradient_paths:
        from ..models.gradient_paths import print_gradient_paths

        return print_gradient_paths(spec, regime, as_json=args.json)
    cx = complexity([spec], regime)
    row = spec_row(spec, cx, regime.name)
    stages = stage_breakdown(spec, regime)
    if args.json:
        row["stages"] = stages
        print(json.dumps(row))
        return 0
    print(format_table(spec, row, stages))
    return 0


def stage_breakdown(spec, regime) -> list:
    """Per-stage complexity rows (plain AnyNet stages; family stages report their options)."""
    from ..complexity import complexity_anynet
    from ..registry import family_of, family_stage_breakdown

    per = complexity_anynet([spec], regime, per_stage=True) if family_of(spec) is None else \
        family_stage_breakdown(spec, regime)
    rows = []
    for j, st in enumerate(spec.stages):
        row = {"stage": j + 1, "block": st.block, "width": st.width, "depth": st.depth, "stride": st.stride,
               "bottleneck_ratio": st.bottleneck_ratio, "group_width": st.group_width, "se_ratio": st.se_ratio,
               "family": st.family.thaw()}
        if per is not None:
            for m in ("flops", "params", "acts"):
                row[m] = int(per[f"stage_{m}"][0, j])
        rows.append(row)
    return rows


def _human(v: int) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if v >= scale:
            return f"{v / scale:.2f}{unit}"
    return str(v)


def format_table(spec, row, stages) -> str:
    head = f"{'stage':>5} {'block':<15} {'width':>6} {'depth':>5} {'stride':>6} {'b':>5} {'g':>4} {'SE':>5}"
    has_cx = stages and "flops" in stages[0]
    if has_cx:
        head += f" {'flops':>9} {'params':>9} {'acts':>9}"
    has_family = any(s["family"] for s in stages)
    if has_family:
        head += "  family"
    lines = [f"{row['space'] or 'model'} {row['id']} ({row['regime']})", head]
    for s in stages:
        line = (f"{s['stage']:>5} {s['block']:<15} {s['width']:>6} {s['depth']:>5} {s['stride']:>6} "
                f"{s['bottleneck_ratio']:>5g} {s['group_width']:>4} {s['se_ratio']:>5g}")
        if has_cx:
            line += f" {_human(s['flops']):>9} {_human(s['params']):>9} {_human(s['acts']):>9}"
        if has_family:
            line += "  " + json.dumps(s["family"], sort_keys=True)
        lines.append(line)
    if "d" in row:
        lines.append(f"RegNet: d={row['d']} w0={row['w0']} wa={row['wa']} wm={row['wm']}")
    lines.append(f"total: flops {row['flops']:,} ({_human(row['flops'])})  params {row['params']:,} "
                 f"({_human(row['params'])})  acts {row['acts']:,} ({_human(row['acts'])})")
    extra = [f"{key[3:]} {row[key]:,} ({_human(row[key])})" for key in row if key.startswith("cx_")]
    if extra:  # family columns: the training graph, a reference's own counting convention
        lines.append("also: " + "  ".join(extra))
    return "\n".join(lines)
