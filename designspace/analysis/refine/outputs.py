"""What refine hands back: the best refinement a space file can hold, that space file's definition,
and the figure of the population's error EDF against its best refinements'."""
from __future__ import annotations

import pandas as pd

from ...errors import UsageError
from .population import Population


def best_refinement(table: pd.DataFrame):
    """The top-ranked candidate that improves the space and can be written in a space file (a
    constraint over the sampler's columns; e_fit is measured on trained models, not sampled), or None."""
    ok = table[table["improves"] & table["space_constraint"]]
    return None if ok.empty else ok.iloc[0]


def refined_definition(pop: Population, constraint: str) -> dict:
    """A space file for the population's space refined by `constraint`: {name, base, constraints}
    when the space is known by its name, else its whole resolved definition with the constraint
    appended. The name is the inline form (e.g. AnyNetXB[b==1]), so get_space() of a population
    sampled from it finds the same space. UsageError when the result would not load."""
    from ...spaces import get_space, space_from_dict

    space = pop.space
    if space is None:
        raise UsageError(f"space {pop.label!r} is not a known space; pass --space NAME_OR_FILE to say which "
                         "space the population was sampled from")
    base = space.definition()
    if "params" not in base:
        raise UsageError(f"space {space.name!r} is written as code, not as data; its refinement cannot be a space file")
    name = f"{space.name}-refined"
    # the inline form names it (AnyNetXB[b==1]; a refined inline space gets one more item), so a
    # population sampled from the file is found again by get_space(its label)
    tries = [f"{space.name}[{constraint}]"] + ([f"{space.name[:-1]},{constraint}]"] if space.name.endswith("]") else [])
    for inline in tries:
        try:
            refined = get_space(inline)
        except UsageError:
            continue
        if refined.definition().get("constraints", [])[-1:] == [constraint]:
            name = refined.name
            break
    try:
        by_name = get_space(space.name).definition() == base
    except UsageError:
        by_name = False
    if by_name:
        out = {"name": name, "base": space.name, "constraints": [constraint]}
    else:
        out = {**base, "name": name, "constraints": list(base.get("constraints", [])) + [constraint]}
    space_from_dict(out)  # the file must load; a UsageError here names why
    return out


def plot_refinements(pop: Population, table: pd.DataFrame, top: int = 3):
    """Error EDF of the whole population against the EDFs of the best `top` tested candidates'
    models (the improving ones when any improve); legends give the number of models."""
    from matplotlib.figure import Figure

    from ..edf import edf_values, error_grid

    tested = table[table["status"] == "tested"]
    best = tested[tested["improves"]] if tested["improves"].any() else tested
    best = best.head(top)
    grid = error_grid(pop.errors, num=400)
    fig = Figure(figsize=(6.0, 4.2))
    ax = fig.subplots()
    ax.step(grid, edf_values(pop.errors, grid), where="post", color="black", linewidth=2.0,
            label=f"{pop.label or 'population'} (n={len(pop.errors)})")
    for row in best.itertuples():
        kept = pop.errors[pop.mask(row.candidate)]
        ax.step(grid, edf_values(kept, grid), where="post", linewidth=1.6,
                label=f"{row.candidate} (n={len(kept)}; mean shift {row.mean_shift:+.2f})")
    ax.set_xlabel("error (%)")
    ax.set_ylabel("cumulative probability (models)")
    ax.set_ylim(0, 1)
    ax.set_title("Error EDF: population and its best refinements", y=1.0, pad=6)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=7)
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.13, top=0.92)
    return fig
