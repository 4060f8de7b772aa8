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

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from ...registry import Family, TrainContext, TrainHook, register_family
from ...schema import STRICT, Flag, Integer, Number, validate

KEY = "dyrep"  # the recipe key this family owns


# --- options ---------------------------------------------------------------------------------------
METRICS = ("synflow", "grad_norm", "snip", "random")  # saliency metrics (.model scores them)


class DyRepOptions(BaseModel):
    """recipe.dyrep as written; interval and stop default from the epochs (parse_dyrep)."""
    model_config = STRICT
    metric: Literal[METRICS] = "synflow"
    interval: Annotated[Integer, Field(ge=1)] | None = None
    stop: Number | None = None
    recal_batches: Annotated[Integer, Field(ge=0)] = 20
    branches: Annotated[list[Annotated[Integer, Field(ge=0, le=6)]], Field(max_length=7)] = list(range(7))
    internal_mult: Annotated[Integer, Field(ge=1, le=2)] = 1
    grow_top: Annotated[Integer, Field(ge=1)] = 1
    deploy: Flag = True


def parse_dyrep(option, epochs: float) -> dict:
    """Resolved DyRep options; one-line UsageError naming the bad key."""
    given = validate(DyRepOptions, {} if option is True else option, "", at="recipe.dyrep")
    e = max(int(round(epochs)), 1)
    out = given.model_dump()
    out["interval"] = given.interval if given.interval is not None else max(1, e // 8)
    out["stop"] = float(given.stop if given.stop is not None else 0.8 * e)
    out["branches"] = tuple(sorted(set(given.branches) | {3}))
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
