"""designspace power: models per arm (and compute) for each part of a schema-2 suite to decide its effect
of interest with the declared power, by resampling a pilot run's models (or from a declared spread)."""


def register(sub):
    p = sub.add_parser("power", help="models per arm each claim needs to decide its effect of interest",
                       description="For every part of a schema-2 suite: the models per arm that give the declared "
                                   "power (power.target, default 80%) to decide the part's effect of interest at its "
                                   "multiplicity-adjusted planning level (under claims: fdr both the level with one "
                                   "claim selected, which sizes the sweeps, and the optimistic one with every claim "
                                   "selected), estimated by resampling the pilot's models (--pilot: a folder of "
                                   "stores named by sweep key, e.g. an earlier tier's) or from the suite's "
                                   "power.spread; and per sweep the compute it implies from the pilot's measured "
                                   "trial seconds x repeats x cpus per trial.")
    p.add_argument("suite", help="a schema-2 suite file")
    p.add_argument("--pilot", default=None, metavar="STORE_DIR", help="stores <STORE_DIR>/<sweep key>.db")
    p.add_argument("--seed", type=int, default=0, help="simulation seed (default: 0)")
    p.add_argument("--json", action="store_true", help="JSON on stdout")
    p.set_defaults(func=run)


def run(args):
    import json
    import os

    from ..claims.power import plan_suite
    from ..claims.suite import load_suite
    from ..errors import UsageError
    from ..limits import MAX_SEED

    suite = load_suite(args.suite)
    if suite.schema < 2:
        raise UsageError(f"{args.suite} is a schema-1 suite; power needs schema: 2 or 3 (effects of interest and "
                         "rules)")
    if args.pilot is not None and not os.path.isdir(args.pilot):
        raise UsageError(f"--pilot {args.pilot} is not a folder of stores")
    if not 0 <= args.seed <= MAX_SEED:
        raise UsageError(f"--seed must be in [0, {MAX_SEED}], got {args.seed}")
    if args.pilot is None and suite.rules.power.spread is None:
        raise UsageError("give --pilot STORE_DIR, or declare power.spread (between-model sd in points) in the suite")
    plan = plan_suite(suite, args.pilot, args.seed)
    if args.json:
        print(json.dumps(plan, indent=1, default=float))
        return 0
    print("# n/arm: models per arm for the target power with one claim selected (R = 1), the level that holds "
          "whatever the other claims do;")
    print("# if all: every claim selected (R = K), the optimistic bound (the two differ only under claims: fdr). "
          "Sweep sizes and compute use n/arm.")
    print("# declared: the models per arm the suite's sweeps give the part ('<=': an arm with a `where` keeps part "
          "of them), and the power there at each level.")
    print(f"{'claim':>5}  {'part':<44} {'effect':>6} {'alpha':>8} {'n/arm':>7} {'power':>5} "
          f"{'alpha if all':>12} {'n if all':>8} {'declared':>8} {'power':>5} {'if all':>6}  note")
    for p in plan["parts"]:
        one, every = (p.get("levels", {}).get(k, {}) for k in ("one_selected", "all_selected"))
        effect = f"{p['effect']:g}" if p.get("effect") else "–"
        decl = p.get("declared_per_arm") or {}
        declared = (("" if decl["exact"] else "<=") + str(decl["models"])) if decl.get("models") else "–"
        print(f"{p['claim']:>5}  {p['part'][:44]:<44} {effect:>6} {_alpha(one):>8} {_n(one):>7} "
              f"{_power(one, 'power_at_n'):>5} {_alpha(every):>12} {_n(every):>8} {declared:>8} "
              f"{_power(one, 'power_at_declared'):>5} {_power(every, 'power_at_declared'):>6}  {p.get('note', '')}")
    print()
    for key, s in plan["sweeps"].items():
        per = f"{s['spaces']} spaces x {s['repeats']} trial(s) x {s['cpus_per_trial']:g} cpus"
        hours = f"{s['core_hours']:.1f} core-hours" if s["core_hours"] else "cost unknown (no pilot trial seconds)"
        every = f"; if all: {s['models_per_space_all_selected'] or '–'}"
        if s["core_hours_all_selected"]:
            every += f", {s['core_hours_all_selected']:.1f} core-hours"
        print(f"sweep {key}: {s['models_per_space'] or '–'} models x {per}, {hours}{every}")
    if not any(s["core_hours"] for s in plan["sweeps"].values()):
        print("total: cost unknown (give --pilot: trial seconds come from its stores)")
        return 0
    cores = os.cpu_count() or 1
    print(f"total: {plan['core_hours']:.1f} core-hours ({plan['core_hours'] / cores:.1f} h on this machine's {cores} "
          f"cores); if all claims are selected: {plan['core_hours_all_selected']:.1f} core-hours")
    return 0


def _alpha(level: dict) -> str:
    return f"{level['alpha']:.2g}" if level.get("alpha") else "–"


def _n(level: dict) -> str:
    from ..stats.power import MAX_N

    if not level:
        return "–"
    return f"{level['per_arm']:,}" if level.get("per_arm") else f">{MAX_N:,}"


def _power(level: dict, key: str) -> str:
    return f"{level[key]:.2f}" if level.get(key) is not None else "–"
