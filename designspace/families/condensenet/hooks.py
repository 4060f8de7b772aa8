"""The training hook of a CondenseNetV2: the condensation schedule, the optional group lasso, and the
conversion at the end of training."""
from __future__ import annotations

from ...errors import UsageError
from ...registry import TrainHook
from .options import KEY, RECIPE_KEY, parse_condense


class CondensationHook(TrainHook):
    """Advance the LGC / SFR masks with progress p = step / total (catch-up included), optional group
    lasso after backward (recipe.condense.lasso, CondenseNet v1; default off), convert to group conv +
    index layers at the end."""

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
        from .model import convert

        convert(model)
        self.converted = True

    def report(self):
        return {"extra": {"condensation": {"events": self.events, "converted": self.converted}}}


def condensation_hooks(spec, recipe, model, ctx):
    condense = recipe.family_option(RECIPE_KEY)
    if KEY in spec.family:
        return [CondensationHook(parse_condense(condense or {}))]
    if condense is not None:
        raise UsageError("recipe.condense applies to condensenetv2 specs only")
    return []
