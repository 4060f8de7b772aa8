"""A sweep's plan and identity: every trial it will train, with ids stable across reruns, and the
rule that refuses a rerun whose config changed what the stored rows mean."""
from __future__ import annotations

from ..errors import UsageError
from .config import SweepConfig


def plan_trials(cfg: SweepConfig, data_dir: str | None = None) -> list[dict]:
    """Every trial of the sweep as a store row without results: sampling is deterministic in the
    seed, so a rerun plans exactly the same trials with the same ids."""
    from ..store import trial_id
    from ..table import spec_rows

    context = cfg.trial_context(data_dir)
    trials = []
    for name in cfg.spaces:
        space = cfg.space(name)
        draw, cx = space.sample_arrays(cfg.models_per_space, seed=cfg.seed, flops=cfg.flops, regime=cfg.regime)
        specs = space.specs_from(draw)
        for spec, row in zip(specs, spec_rows(specs, cx, cfg.regime)):
            cx_train = next((row[k] for k in ("cx_train_flops", "cx_train") if k in row), None)
            for seed in cfg.training_seeds:  # sampling used cfg.seed
                trials.append({
                    "trial_id": trial_id(spec.id, {**context, "space": name}, seed),
                    "sweep": cfg.name, "space": name, "spec_id": spec.id, "spec": spec.to_json(sort_keys=True),
                    "regime": cfg.regime, "dataset": cfg.dataset["name"], "recipe": cfg.recipe.to_dict(),
                    "seed": seed, "flops": row["flops"], "params": row["params"], "acts": row["acts"],
                    "cx_train": cx_train,
                })
    return trials


def identity_changes(old: dict, new: dict, prefix: str = "") -> list[str]:
    """'key: old -> new' for every leaf that differs between two identities."""
    out = []
    for key in sorted(set(old) | set(new), key=str):
        a, b = old.get(key, "<absent>"), new.get(key, "<absent>")
        where = f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            out += identity_changes(a, b, where + ".")
        elif a != b:
            out.append(f"{where}: {_short(a)} -> {_short(b)}")
    return out


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def plan_conflict(cfg, recorded, identity, ids, stored, new_plan) -> bool:
    """Whether the stored rows belong to another plan: raise (naming the change) unless new_plan,
    in which case the caller archives them. False when the plan is the stored one (or new)."""
    if recorded and recorded.get("identity") is not None:
        if plan_extends(recorded, identity, ids):
            return False
        changes = identity_changes(recorded["identity"], identity)
        if not changes and recorded.get("plan") not in (None, ids):
            changes = [f"the trials planned from the same config differ ({len(set(recorded['plan']) ^ set(ids))} "
                       "ids; another designspace version samples differently)"]
    else:  # no stored plan (a new sweep, or a store from before plans): rows outside this plan conflict
        foreign = set(stored) - set(ids)
        changes = [f"{len(foreign)} stored row(s) of sweep {cfg.name} are not in this plan (stored before "
                   "plans were recorded, or with other settings)"] if foreign else []
    if not changes:
        return False
    if not new_plan:
        shown = "; ".join(changes[:3]) + (f"; and {len(changes) - 3} more" if len(changes) > 3 else "")
        raise UsageError(f"sweep {cfg.name} in {cfg.store} was planned with another config ({shown}); rerun with "
                         f"--new-plan to plan it again (the old rows are kept as {cfg.name}~N), or use another name")
    return True


def plan_extends(recorded: dict, identity: dict, ids: list[str]) -> bool:
    """Whether the new plan only draws more models per space than the stored one: models_per_space
    grew, nothing else in the identity changed, and every stored planned id is in the new plan.
    Sampling is prefix-stable, so such a plan keeps every stored trial and adds to it (a sequential
    suite's next look); a shrinking or otherwise changed plan stays a conflict."""
    old = dict(recorded["identity"])
    new = dict(identity)
    old_n, new_n = old.pop("models_per_space", None), new.pop("models_per_space", None)
    if old != new or not isinstance(old_n, int) or not isinstance(new_n, int) or new_n <= old_n:
        return False
    return recorded.get("plan") is not None and set(recorded["plan"]) <= set(ids)
