"""CondenseNetV2's option parsing: the ``condensenetv2`` spec option and the ``condense`` recipe option,
each to its resolved form with a one-line UsageError for anything malformed."""
from __future__ import annotations

from collections.abc import Mapping

from ...errors import UsageError
from ...spec import MAX_DEPTH, MAX_STAGES, MAX_WIDTH, ModelSpec

KEY = "condensenetv2"
INT_KEYS = ("groups", "condense", "sfr", "sfr_groups", "bottleneck", "stem", "fc", "se_from", "hswish_from", "head_se")
LIST_KEYS = ("blocks", "growth")


def parse_options(spec: ModelSpec):
    """The resolved CondenseConfig of a spec; one-line UsageError for anything malformed."""
    from .config import CondenseConfig

    opt = spec.family.get(KEY)
    if not isinstance(opt, Mapping):
        raise UsageError(f"{KEY} option must be a mapping, got {opt!r}")
    unknown = set(opt) - set(INT_KEYS) - set(LIST_KEYS)
    if unknown:
        raise UsageError(f"unknown {KEY} option(s) {', '.join(sorted(unknown))}; valid: "
                         f"{', '.join(LIST_KEYS + INT_KEYS)}")
    if spec.stages and any(st.depth for st in spec.stages):
        raise UsageError(f"{KEY} is a macro family: its spec has no AnyNet stages")
    lists = {}
    for key in LIST_KEYS:
        value = opt.get(key)
        if not isinstance(value, (list, tuple)) or not value or not all(_is_int(v) and v > 0 for v in value):
            raise UsageError(f"{KEY}.{key} must be a non-empty list of positive integers, got {value!r}")
        lists[key] = tuple(int(v) for v in value)
    for key, top in (("blocks", MAX_DEPTH), ("growth", MAX_WIDTH)):
        if len(lists[key]) > MAX_STAGES or max(lists[key]) > top:
            raise UsageError(f"{KEY}.{key} takes at most {MAX_STAGES} values of at most {top:,}, got "
                             f"{len(lists[key])} up to {max(lists[key]):,}")
    if len(lists["blocks"]) != len(lists["growth"]):
        raise UsageError(f"{KEY}: blocks and growth need the same length, got {len(lists['blocks'])} and "
                         f"{len(lists['growth'])}")
    defaults = {"groups": None, "condense": None, "sfr": 0, "sfr_groups": None, "bottleneck": 4,
                "stem": 2 * lists["growth"][0], "fc": 0, "se_from": 3, "hswish_from": 2, "head_se": 16}
    ints = {}
    for key in INT_KEYS:
        value = opt.get(key, defaults[key])
        if value is None and key == "sfr_groups":
            value = ints["groups"]
        if value is None or not _is_int(value) or value < 0:
            raise UsageError(f"{KEY}.{key} must be a non-negative integer, got {value!r}")
        ints[key] = int(value)
    for key in ("groups", "condense", "bottleneck", "stem", "sfr_groups"):
        if ints[key] < 1:
            raise UsageError(f"{KEY}.{key} must be positive, got {ints[key]}")
    for key in INT_KEYS:
        if ints[key] > MAX_WIDTH:
            raise UsageError(f"{KEY}.{key} {ints[key]:,} is past the limit {MAX_WIDTH:,}")
    final = ints["stem"] + sum(n * k for n, k in zip(lists["blocks"], lists["growth"]))
    if final > 4 * MAX_WIDTH or ints["bottleneck"] * max(lists["growth"]) > 4 * MAX_WIDTH:
        raise UsageError(f"{KEY}: the network would widen to {final:,} channels (bottleneck "
                         f"{ints['bottleneck'] * max(lists['growth']):,}), past the limit {4 * MAX_WIDTH:,}")
    if ints["sfr"] == 1:
        raise UsageError(f"{KEY}.sfr must be 0 (no SFR) or a factor >= 2, got 1")
    cfg = CondenseConfig(**lists, **ints)
    cfg.validate()
    if ints["head_se"] and cfg.final_width // ints["head_se"] < 1:
        raise UsageError(f"{KEY}.head_se={ints['head_se']} leaves no width for C={cfg.final_width}")
    return cfg


def _is_int(v) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float)) and int(v) == v


RECIPE_KEY = "condense"  # the recipe key this family owns: {lasso}
CONDENSE_KEYS = ("lasso",)


def parse_condense(option) -> dict:
    if not isinstance(option, Mapping):
        raise UsageError(f"recipe.condense must be a mapping like {{lasso: 1e-5}}, got {option!r}")
    unknown = set(option) - set(CONDENSE_KEYS)
    if unknown:
        raise UsageError(f"unknown recipe.condense key(s) {', '.join(sorted(unknown))}; valid: lasso")
    lasso = option.get("lasso", 0.0)
    if isinstance(lasso, bool) or not isinstance(lasso, (int, float)) or lasso < 0:
        raise UsageError(f"recipe.condense.lasso must be a number >= 0, got {lasso!r}")
    return {"lasso": float(lasso)}


def validate_condense(recipe) -> None:
    option = recipe.family_option(RECIPE_KEY)
    if option is not None:
        parse_condense(option)
