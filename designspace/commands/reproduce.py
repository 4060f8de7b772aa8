"""designspace reproduce: the paper's claims, judged by rules written down before the run.

Exit status: 0 every selected claim judged (holds, contradicted or not resolved; claims the suite
marks as not runnable at its tier aside); 1 some claim not judged (a sweep's store or an arm's
models missing: each is named) or trials failed; 2 bad input (one line)."""
import shlex
import sys


def _ids(text):
    from ..errors import UsageError

    try:
        ids = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise UsageError(f"--only takes claim ids like 5,6, got {text!r}") from None
    if not ids:
        raise UsageError("--only names no claim")
    return ids


DESCRIPTION = (
    "Run a claims suite's sweeps (resumable, through `designspace sweep`'s machinery) and judge each of "
    "the paper's claims by the statistic, interval and verdict rule the suite committed before the run: "
    "holds, contradicted or not resolved. Writes claims.md, claims.json and report.html. Ctrl-C keeps "
    "finished trials; rerunning resumes.")


def register(sub):
    p = sub.add_parser("reproduce", help="run a claims suite's sweeps and judge each claim (experiments/paper/)",
                       description=DESCRIPTION)
    p.add_argument("suite", help="experiments/paper/cpu.yaml | cpu_seeds.yaml | gpu.yaml | gpu_seeds.yaml")
    p.add_argument("--tier", choices=None, default=None, help="cpu | gpu (checked against the suite file's tier)")
    p.add_argument("--only", type=_ids, default=None, metavar="IDS", help="claim ids, e.g. 5,6")
    p.add_argument("--analyze-only", action="store_true",
                   help="judge the stores that exist (a sweep still incomplete leaves its claims not run); "
                        "run nothing")
    p.add_argument("--address", default=None,
                   help="Ray cluster to join (auto | HOST:PORT | ray://HOST:PORT, as `designspace sweep`); "
                        "default: a private local one")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="stores and claims.md/json/report.html (default: the suite's, results/paper/<tier>/)")
    p.add_argument("--data-dir", default=None, help="dataset directory override")
    p.add_argument("--retry-failed", action="store_true", help="also rerun failed and timed-out trials")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--no-figures", action="store_true", help="skip report.html")
    p.add_argument("--seed", type=int, default=None,
                   help="statistics seed for resampling (default: the suite's); schema-2 verdicts do not move with it")
    p.set_defaults(func=run)


def run(args):
    from ..claims import reproduce
    from ..errors import UsageError
    from ..limits import MAX_SEED

    if args.seed is not None and not 0 <= args.seed <= MAX_SEED:
        raise UsageError(f"--seed must be in [0, {MAX_SEED}], got {args.seed}")
    command = "designspace " + shlex.join(sys.argv[1:]) if sys.argv[1:2] == ["reproduce"] else \
        f"designspace reproduce {args.suite}"
    res = reproduce(args.suite, tier=args.tier, only=args.only, analyze_only=args.analyze_only,
                    address=args.address, out=args.out, data_dir=args.data_dir, progress=not args.no_progress,
                    figures=not args.no_figures, retry_failed=args.retry_failed,
                    command=command, seed=args.seed)
    for c in res["claims"]:
        print(f"claim {c['id']:>2} {c['verdict']:<13} {c['text'][:60]:<60} {_deciding_effect(c)}")
    for m in dict.fromkeys(m for c in res["claims"] for m in c.get("missing", []) if not c.get("skip")):
        print(m, file=sys.stderr)
    for p in res["problems"]:
        print(f"reproduce: {p}", file=sys.stderr)
    print(f"wrote {', '.join(res['files'].values())}", file=sys.stderr)
    return res["exit"]


def _deciding_effect(claim: dict) -> str:
    """The effect of the part that decides the claim's verdict (the first part whose verdict is the
    claim's), and which part it is when there are several: a claim contradicted by its second part
    must not print its first part's effect beside the verdict."""
    from ..claims.report import effect_text

    parts = claim["parts"]
    if not parts:
        return ""
    k = next((i for i, p in enumerate(parts) if p["verdict"] == claim["verdict"]), 0)
    if not parts[k].get("effect"):  # not run: the reasons follow on stderr
        return ""
    text = effect_text(parts[k])
    return f"{text} (part {k + 1} of {len(parts)})" if len(parts) > 1 else text
