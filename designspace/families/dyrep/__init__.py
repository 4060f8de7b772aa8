"""DyRep (seed 003; Huang et al. CVPR 2022; hunto/DyRep): a training-recipe family. Its hook grows
DBB branches on the most salient convs (Rep), cuts weak ones (Dep) and deploys the base network;
torch work lives in .model (imported lazily). The trainer reaches it through the registry's hooks
(designspace.registry.make_train_hooks).

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
"""
from __future__ import annotations

from collections.abc import Mapping

from ...errors import UsageError
from ...registry import Family, TrainContext, TrainHook, register_family

KEY = "dyrep"  # the recipe key this family owns
DYREP_KEYS = ("metric", "interval", "stop", "recal_batches", "branches", "internal_mult", "grow_top", "deploy")


# --- options ---------------------------------------------------------------------------------------
def _int(value, key, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value or value < minimum:
        raise UsageError(f"recipe.{key} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def parse_dyrep(option, epochs: float) -> dict:
    """Resolved DyRep options; one-line UsageError naming the bad key."""
    from .model import METRICS

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


def validate_recipe_options(recipe) -> None:
    """Called by Recipe validation (through the registry): fail fast on bad dyrep options."""
    option = recipe.family_option(KEY)
    if option not in (None, False):
        parse_dyrep(option, recipe.epochs)


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
        from .model import DyRep

        self.ctx, self.opt = ctx, options
        self.dyrep = DyRep(model, options["metric"], options["branches"], options["internal_mult"],
                           options["recal_batches"], options["grow_top"])
        self.cx_per_epoch: list[int] = []
        self.params_per_epoch: list[int] = []

    def after_backward(self, model, step):
        self.dyrep.record()

    def on_epoch_end(self, model, optimizer, epoch):
        from .model import count_training_graph, rebuild_optimizer

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


def make_train_hooks(spec, recipe, model, ctx: TrainContext) -> list:
    """A DyRep hook if the recipe asks for it."""
    option = recipe.family_option(KEY)
    return [] if option in (None, False) else [DyRepHook(model, ctx, parse_dyrep(option, ctx.epochs))]


register_family(Family(name="dyrep", kind="recipe", keys=(), complexity=None, build=None, recipe_keys=(KEY,),
                       cpu_channels_last=False,  # DBB blocks: see Family.cpu_channels_last
                       train_hooks=make_train_hooks, validate_recipe=validate_recipe_options,
                       description="DyRep: grow / cut DBB branches during training (recipe.dyrep)"))
