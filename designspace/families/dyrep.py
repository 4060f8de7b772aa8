"""Training-time procedures of the seed families, as trainer hooks: DyRep (recipe option ``dyrep``)
and the CondenseNetV2 condensation schedule (automatic for condensenetv2 specs; recipe option
``condense`` for the optional group lasso).

designspace/train.py calls, in a small delimited block, ``make_train_hooks`` once and then the
returned HookList at four points: before each step (progress p = step / total), after backward
(gradients present, before optimizer.step), at the end of each epoch, and at the end of training
(success only). Hooks change the model and the optimizer's param groups in place.

Recipe option (a sweep config's ``recipe: {dyrep: {...}}``), all keys optional:

    dyrep: {metric: synflow | grad_norm | snip | random,   # saliency, default synflow
            interval: t,          # adjust after every t epochs (default max(1, E // 8), the proxy rule)
            stop: E_max,          # ... while the 0-based epoch index is < E_max (default 0.8 E); the
                                  # reference's `epoch < E_max and (epoch + 1) % t == 0`
            recal_batches: 20,    # BN recalibration batches after each growth
            branches: [0..6],     # DBB branches a grown conv gets (default all; 3 is always on)
            internal_mult: 1,     # D / c_in of branch 1
            grow_top: 1,          # convs grown per adjustment
            deploy: true}         # fuse back to the base network before evaluation

    condense: {lasso: 0.0}        # group-lasso weight on LGC / SFR (CondenseNet v1; default off)
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import UsageError

DYREP_KEYS = ("metric", "interval", "stop", "recal_batches", "branches", "internal_mult", "grow_top", "deploy")
CONDENSE_KEYS = ("lasso",)


@dataclass
class TrainContext:
    """What hooks may need from the trainer."""

    epochs: float
    steps_per_epoch: int
    input_shape: tuple  # (C, H, W)
    sample_batch: Callable[[], Any]  # a random, prepared training batch of inputs (for BN recalibration)


class TrainHook:
    """No-op base: override what you need."""

    def before_step(self, model, step: int, progress: float) -> None: ...

    def after_backward(self, model, step: int) -> None: ...

    def on_epoch_end(self, model, optimizer, epoch: int) -> None: ...

    def on_train_end(self, model) -> None: ...

    def report(self) -> dict:
        """Keys merged into the trial's metrics (e.g. cx_train, extra)."""
        return {}


class HookList(list):
    """Fans every call out to its hooks, in order."""

    def before_step(self, model, step, progress):
        for h in self:
            h.before_step(model, step, progress)

    def after_backward(self, model, step):
        for h in self:
            h.after_backward(model, step)

    def on_epoch_end(self, model, optimizer, epoch):
        for h in self:
            h.on_epoch_end(model, optimizer, epoch)

    def on_train_end(self, model):
        for h in self:
            h.on_train_end(model)

    def report(self) -> dict:
        out: dict = {}
        for h in self:
            part = h.report()
            extra = {**out.get("extra", {}), **part.pop("extra", {})}
            out.update(part)
            if extra:
                out["extra"] = extra
        return out


# --- options ---------------------------------------------------------------------------------------
def _int(value, key, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value or value < minimum:
        raise UsageError(f"recipe.{key} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def parse_dyrep(option, epochs: float) -> dict:
    """Resolved DyRep options; one-line UsageError naming the bad key."""
    from ..models.dyrep import METRICS

    if option is True:
        option = {}
    if not isinstance(option, Mapping):
        raise UsageError(f"recipe.dyrep must be a mapping (or true), got {option!r}")
    unknown = set(option) - set(DYREP_KEYS)
    if unknown:
        raise UsageError(f"unknown recipe.dyrep key(s) {', '.join(sorted(unknown))}; valid: {', '.join(DYREP_KEYS)}")
    e = max(int(round(epochs)), 1)
    out = {"metric": option.get("metric", "synflow"),
           "interval": _int(option.get("interval", max(1, e // 8)), "dyrep.interval", 1),
           "stop": float(option.get("stop", 0.8 * e)),
           "recal_batches": _int(option.get("recal_batches", 20), "dyrep.recal_batches", 0),
           "internal_mult": option.get("internal_mult", 1),
           "grow_top": _int(option.get("grow_top", 1), "dyrep.grow_top", 1),
           "deploy": option.get("deploy", True)}
    if out["metric"] not in METRICS:
        raise UsageError(f"recipe.dyrep.metric must be one of {', '.join(METRICS)}, got {out['metric']!r}")
    if out["internal_mult"] not in (1, 2) or isinstance(out["internal_mult"], bool):
        raise UsageError(f"recipe.dyrep.internal_mult must be 1 or 2, got {out['internal_mult']!r}")
    if not isinstance(out["deploy"], bool):
        raise UsageError(f"recipe.dyrep.deploy must be true or false, got {out['deploy']!r}")
    branches = option.get("branches", list(range(7)))
    if isinstance(branches, (str, bytes)) or not isinstance(branches, (list, tuple)) or not all(
            not isinstance(b, bool) and isinstance(b, int) and 0 <= b <= 6 for b in branches):
        raise UsageError(f"recipe.dyrep.branches must be a list of branch indices 0-6, got {branches!r}")
    out["branches"] = tuple(sorted(set(branches) | {3}))
    return out


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


def validate_recipe_options(recipe) -> None:
    """Called by Recipe validation: fail fast on bad dyrep / condense options."""
    if getattr(recipe, "dyrep", None) not in (None, False):
        parse_dyrep(recipe.dyrep, recipe.epochs)
    if getattr(recipe, "condense", None) is not None:
        parse_condense(recipe.condense)


def adjusts_after(epochs_done: int, options: dict) -> bool:
    """Whether DyRep adjusts after `epochs_done` completed epochs: the reference's check on the
    0-based epoch e = epochs_done - 1 (hunto/image_classification_sota tools/train.py)."""
    e = epochs_done - 1
    return e < options["stop"] and (e + 1) % options["interval"] == 0


# --- hooks -----------------------------------------------------------------------------------------
class DyRepHook(TrainHook):
    """Saliency every step, Rep + Dep + optimizer rebuild every `interval` epochs while the epoch
    count is below `stop`, deploy to the base network at the end; records cx_train per epoch."""

    def __init__(self, model, ctx: TrainContext, options: dict):
        from ..models.dyrep import DyRep

        self.ctx, self.opt = ctx, options
        self.dyrep = DyRep(model, options["metric"], options["branches"], options["internal_mult"],
                           options["recal_batches"], options["grow_top"])
        self.cx_per_epoch: list[int] = []
        self.params_per_epoch: list[int] = []

    def after_backward(self, model, step):
        self.dyrep.record()

    def on_epoch_end(self, model, optimizer, epoch):
        from ..models.dyrep import count_training_graph, rebuild_optimizer

        cx = count_training_graph(model, self.ctx.input_shape)  # the graph this epoch trained
        self.cx_per_epoch.append(cx["flops"])
        self.params_per_epoch.append(cx["params"])
        if adjusts_after(epoch, self.opt):
            self.dyrep.adjust(self.ctx.sample_batch)
            rebuild_optimizer(optimizer, model)

    def on_train_end(self, model):
        if self.opt["deploy"]:
            self.dyrep.deploy()

    def report(self):
        total = sum(self.cx_per_epoch)
        return {"cx_train": int(round(total / max(len(self.cx_per_epoch), 1))),
                "extra": {"dyrep": {"cx_train_per_epoch": self.cx_per_epoch,
                                    "params_per_epoch": self.params_per_epoch,
                                    "cx_train_total": total, "events": self.dyrep.events,
                                    "options": {k: list(v) if isinstance(v, tuple) else v
                                                for k, v in self.opt.items()}}}}


class CondensationHook(TrainHook):
    """CondenseNetV2: advance the LGC / SFR masks with progress p = step / total (catch-up included),
    optional group lasso after backward, convert to group conv + index layers at the end."""

    def __init__(self, options: dict):
        self.lasso = options["lasso"]
        self.events: list[list] = []
        self.converted = False

    def before_step(self, model, step, progress):
        fired = model.set_progress(progress)
        if fired:
            self.events.append([step, round(progress, 6), fired])

    def after_backward(self, model, step):
        if self.lasso > 0:
            (self.lasso * model.lasso_loss()).backward()  # adds its gradient before optimizer.step

    def on_train_end(self, model):
        model.set_progress(1.0)  # a run shorter than the schedule still ends condensed
        from ..models.condensenet import convert

        convert(model)
        self.converted = True

    def report(self):
        return {"extra": {"condensation": {"events": self.events, "converted": self.converted}}}


def make_train_hooks(spec, recipe, model, ctx: TrainContext) -> HookList:
    """The hooks a trial needs: DyRep if the recipe asks, condensation for CondenseNetV2 specs."""
    from .condensenet import KEY as CDNV2

    hooks = HookList()
    dyrep = getattr(recipe, "dyrep", None)
    condense = getattr(recipe, "condense", None)
    if dyrep not in (None, False):
        hooks.append(DyRepHook(model, ctx, parse_dyrep(dyrep, ctx.epochs)))
    if CDNV2 in spec.family:
        hooks.append(CondensationHook(parse_condense(condense or {})))
    elif condense is not None:
        raise UsageError("recipe.condense applies to condensenetv2 specs only")
    return hooks
