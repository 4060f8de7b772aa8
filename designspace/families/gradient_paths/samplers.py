"""Stage-family modifiers of design spaces: ``BASE+prn``, ``+csp``, ``+elan``, ``+osa``, ``+stopgrad``,
``+act`` (sampling ranges of seed-families.md §5.2) and fixed-variant modifiers for the seed
experiments (``+stopgrad_residual``, ``+csp_fusion_last``, ``+osa_planned``, ...); the ODE package's
dimensions (``+ode``, ``+ode_rk4``, ..., designspace.families.ode.samplers) are registered here too,
since this package's kernel measures them.

A modified space draws the base space's candidates, adds the family dimensions as per-stage columns
and measures every candidate with the vectorized stage complexity, so sampling inside a flops band
stays a numpy batch operation.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ...regimes import Regime
from ...spaces import register_modifier
from ...spaces.base import DesignSpace, Draw, WrappedSpace
from ...spaces.common import choice
from ...spec import StageSpec
from ..common import per_model
from ..ode.samplers import SAMPLERS as ODE_SAMPLERS
from .complexity import COLUMNS, OSA_ALL, OSA_LAST, OSA_NONE, FamilyArrays, family_complexity_arrays, round8
from .options import ACTIVATIONS, CSP_VARIANTS, STOPGRAD_VARIANTS, TOPOLOGIES

PREFIX = "fam:"  # Draw.meta keys holding (m, S) family columns


# --- one sampler per family: (rng, Draw) -> (Draw, {column: (m, S) array}) and stage options -----
class Family:
    """The protocol of a per-stage sampler dimension (the ODE package's follow it without this base)."""

    name = ""
    dims: list = []

    def sample(self, rng, dr: Draw) -> tuple[Draw, dict]:
        raise NotImplementedError

    def options(self, col: dict) -> dict:
        """StageSpec.family of one stage from its column values."""
        raise NotImplementedError


class PRN(Family):
    name = "prn"
    ratios = (0.25, 0.5, 0.75, 1.0)
    dims = [("prn γ1..γS", "partial residual ratio per stage, one of 1/4, 1/2, 3/4, 1"),
            ("shape_change", "shared: proj (1x1 projection) or slice (strided slice, no conv)")]

    def sample(self, rng, dr):
        m, s = dr.widths.shape
        return dr, {"prn_ratio": choice(rng, self.ratios, (m, s)),
                    "prn_slice": per_model(rng, (False, True), m, s)}

    def options(self, col):
        return {"prn": {"partial_ratio": float(col["prn_ratio"]),
                        "shape_change": "slice" if col["prn_slice"] else "proj"}}


class CSP(Family):
    name = "csp"
    ratios = (0.25, 0.5, 0.75)
    dims = [("csp variant", "shared: csp, fusion_first or fusion_last"),
            ("csp γ1..γS", "split ratio per stage, one of 1/4, 1/2, 3/4"),
            ("split", "shared: conv (two 1x1 CBA) or slice"),
            ("entry", "shared: block (the first host block downsamples) or conv (CBA 3x3 stride 2, "
                      "CSPDarknet's and timm's)")]

    def __init__(self, variant: str | None = None):
        self.variant = variant
        if variant:
            self.name = f"csp_{variant}"
            self.dims = [("csp variant", f"fixed: {variant}")] + CSP.dims[1:]

    def sample(self, rng, dr):
        m, s = dr.widths.shape
        codes = range(len(CSP_VARIANTS)) if self.variant is None else (CSP_VARIANTS.index(self.variant),)
        return dr, {"kind": np.full((m, s), TOPOLOGIES.index("csp")),
                    "csp_variant": per_model(rng, tuple(codes), m, s),
                    "csp_ratio": choice(rng, self.ratios, (m, s)),
                    "csp_conv_split": per_model(rng, (True, False), m, s),
                    "csp_conv_entry": per_model(rng, (False, True), m, s)}

    def options(self, col):
        return {"csp": {"variant": CSP_VARIANTS[int(col["csp_variant"])], "split_ratio": float(col["csp_ratio"]),
                        "split": "conv" if col["csp_conv_split"] else "slice",
                        "entry": "conv" if col["csp_conv_entry"] else "block"}}


class ELAN(Family):
    """ELAN stages carrying the base space's depth: a stage of d blocks becomes n_e ELAN blocks of
    m = r * ceil(d / (n_e r)) 3x3 convs (seed 000 Fig. 6c: depth grows inside the computational
    block), so the stage depth m * n_e is d rounded up to a multiple of n_e r."""

    name = "elan"
    dims = [("elan ρ1..ρS", "partial ratio per stage, one of 1/8, 1/4, 1/2"),
            ("elan η1..ηS", "hidden ratio per stage, 1/2 or 1"),
            ("elan r1..rS", "aggregate every r-th conv, 1 or 2"),
            ("elan n1..nS", "ELAN blocks per stage, 1 or 2"),
            ("elan m1..mS", "3x3 convs per block, r * ceil(d_i / (n_i r)) from the base depth d_i "
                            "(stage depth m * n_e)"),
            ("entry", "shared: mp (yolov7 MP) or conv (3x3 stride 2)")]

    def sample(self, rng, dr):
        m, s = dr.widths.shape
        blocks = choice(rng, (1, 2), (m, s))
        every = choice(rng, (1, 2), (m, s))
        convs = every * np.maximum(-(-dr.depths // (blocks * every)), 1)
        depths = np.where(dr.depths > 0, convs * blocks, 0)  # ELAN's depth dimension is m
        dr = Draw(dr.widths, depths, dr.bottleneck_ratios, dr.group_widths, dr.meta)
        return dr, {"kind": np.full((m, s), TOPOLOGIES.index("elan")),
                    "elan_rho": choice(rng, (0.125, 0.25, 0.5), (m, s)), "elan_eta": choice(rng, (0.5, 1.0), (m, s)),
                    "elan_m": convs, "elan_r": every, "elan_blocks": blocks,
                    "elan_mp": per_model(rng, (True, False), m, s)}

    def options(self, col):
        return {"elan": {"partial_ratio": float(col["elan_rho"]), "hidden_ratio": float(col["elan_eta"]),
                         "convs": int(col["elan_m"]), "agg_every": int(col["elan_r"]),
                         "blocks": int(col["elan_blocks"]), "transition": True,
                         "entry": "mp" if col["elan_mp"] else "conv"}}


class OSA(Family):
    """VoVNet OSA stages; `planned` removes every transition but the last stage's last (seed 000 Table 4)."""

    name = "osa"
    dims = [("osa m", "shared: 3x3 convs per OSA module, 3 or 5"),
            ("osa c_h1..c_hS", "hidden width per stage: round8(w/4) or round8(w/2)"),
            ("modules", "ceil(d_i / m) per stage (depth = m * modules)"),
            ("transition", "shared: all, or planned (only the last module of the last stage)"),
            ("pool", "shared: pad (3x3 s2 max pool, padding 1) or ceil (VoVNet's ceil_mode, no padding)")]

    def __init__(self, transition: str | None = None):
        self.transition = transition
        if transition:
            self.name = f"osa_{transition}"
            self.dims = OSA.dims[:3] + [("transition", f"fixed: {transition}")] + OSA.dims[4:]

    def sample(self, rng, dr):
        m, s = dr.widths.shape
        convs = per_model(rng, (3, 5), m, s)
        depths = np.where(dr.depths > 0, -(-dr.depths // convs) * convs, 0)
        dr = Draw(dr.widths, depths, dr.bottleneck_ratios, dr.group_widths, dr.meta)
        planned = {None: (False, True), "all": (False,), "planned": (True,)}[self.transition]
        planned = per_model(rng, planned, m, s)
        last = np.arange(s)[None, :] == (s - 1 - np.argmax(depths[:, ::-1] > 0, axis=1))[:, None]
        trans = np.where(planned, np.where(last, OSA_LAST, OSA_NONE), OSA_ALL)
        return dr, {"kind": np.full((m, s), TOPOLOGIES.index("osa")), "osa_m": convs, "osa_transition": trans,
                    "osa_hidden": round8(dr.widths * choice(rng, (0.25, 0.5), (m, s))),
                    "osa_ceil": per_model(rng, (False, True), m, s)}

    def options(self, col):
        t = {OSA_ALL: "all", OSA_LAST: "last", OSA_NONE: "none"}[int(col["osa_transition"])]
        o = {"hidden": int(col["osa_hidden"]), "convs": int(col["osa_m"]), "transition": t}
        if col["osa_ceil"]:  # written only when set: specs without it keep their ids
            o["pool"] = "ceil"
        return {"osa": o}


class CSPOSA(OSA):
    """CSPVoVNet, the last step of seed 000 Table 4: OSA modules without transitions as the body of a
    CSP stage (conv entry, conv split at γ = 1/2, CSPNet fusion), whose fusion is the transition."""

    name = "osa_csp"

    def __init__(self):
        super().__init__()
        self.dims = OSA.dims[:3] + [("transition", "none inside the body; CSP (csp variant, γ = 1/2, conv split, "
                                                   "conv entry) around it")] + OSA.dims[4:]

    def sample(self, rng, dr):
        dr, cols = super().sample(rng, dr)
        m, s = dr.widths.shape
        cols.update({"kind": np.full((m, s), TOPOLOGIES.index("csp")), "csp_osa": np.ones((m, s), bool),
                     "osa_transition": np.full((m, s), OSA_NONE), "csp_conv_entry": np.ones((m, s), bool)})
        return dr, cols

    def options(self, col):
        return {**super().options(col),
                "csp": {"variant": "csp", "split_ratio": 0.5, "split": "conv", "entry": "conv"}}


class StopGrad(Family):
    name = "stopgrad"
    dims = [("stopgrad", "shared: none, residual (sg on the shortcut) or block (sg on the block input)")]

    def __init__(self, variant: str | None = None):
        self.variant = variant
        if variant:
            self.name = f"stopgrad_{variant}"
            self.dims = [("stopgrad", f"fixed: {variant}")]

    def sample(self, rng, dr):
        m, s = dr.widths.shape
        codes = range(3) if self.variant is None else (STOPGRAD_VARIANTS.index(self.variant),)
        return dr, {"stopgrad": per_model(rng, tuple(codes), m, s)}

    def options(self, col):
        return {"stopgrad": STOPGRAD_VARIANTS[int(col["stopgrad"])]}


class Act(Family):
    """The activation of every stage (a model option): relu, silu (yolov7), leaky_relu 0.1 (darknet,
    yolov7-tiny) or hswish (CondenseNetV2); zero cost, so the complexity is the base space's."""

    name = "act"
    dims = [("act", "shared: " + ", ".join(ACTIVATIONS))]

    def __init__(self, kind: str | None = None):
        self.kinds = ACTIVATIONS if kind is None else (kind,)
        if kind:
            self.name = f"act_{kind}"
            self.dims = [("act", f"fixed: {kind}")]

    def sample(self, rng, dr):
        m, s = dr.widths.shape
        return dr, {"act": per_model(rng, tuple(ACTIVATIONS.index(k) for k in self.kinds), m, s)}

    def options(self, col):
        return {"act": ACTIVATIONS[int(col["act"])]}


# --- the modified space ---------------------------------------------------------------------------
class FamilySpace(WrappedSpace):
    """`base` with one family's dimensions added; measured with the family complexity."""

    def __init__(self, base: DesignSpace, family: Family):
        super().__init__(base, family.name, f"; + {family.name} stages")
        self.family = family

    @property
    def free_params(self):
        return list(self.base.free_params) + list(self.family.dims)

    def draw(self, rng: np.random.Generator, m: int) -> Draw:
        dr, cols = self.family.sample(rng, self.base.draw(rng, m))
        meta = dict(dr.meta)
        meta.update({PREFIX + k: np.asarray(v) for k, v in cols.items()})
        return Draw(dr.widths, dr.depths, dr.bottleneck_ratios, dr.group_widths, meta)

    def family_arrays(self, dr: Draw) -> FamilyArrays:
        fam = FamilyArrays.empty(*dr.widths.shape)
        for k, v in dr.meta.items():
            if k.startswith(PREFIX) and k[len(PREFIX):] in COLUMNS:
                fam.cols[k[len(PREFIX):]] = v.astype(COLUMNS[k[len(PREFIX):]][0])
        return fam

    def measure(self, dr: Draw, regime: Regime) -> tuple[dict, np.ndarray]:
        """Complexity of a batch and which candidates are buildable (e.g. a CSP split needs room)."""
        cx = family_complexity_arrays(self.to_arrays(dr), self.family_arrays(dr), regime)
        return cx, cx.pop("valid").all(axis=1)

    def identity_columns(self, dr: Draw) -> list[np.ndarray]:
        return self.base.identity_columns(dr) + [v for k, v in sorted(dr.meta.items()) if k.startswith(PREFIX)]

    def base_draw(self, dr: Draw) -> Draw:
        if isinstance(self.base, FamilySpace):  # BASE+fam1+fam2: the inner family reads its own columns
            return dr
        return Draw(dr.widths, dr.depths, dr.bottleneck_ratios, dr.group_widths,
                    {k: v for k, v in dr.meta.items() if not k.startswith(PREFIX)})

    def with_options(self, spec, i, dr):
        cols = {k[len(PREFIX):]: v for k, v in dr.meta.items() if k.startswith(PREFIX)}
        stages = tuple(
            StageSpec(**{**st.to_dict(), "family": {**st.family.thaw(),
                                                    **self.family.options({k: v[i, j] for k, v in cols.items()})}})
            if st.depth > 0 else st
            for j, st in enumerate(spec.stages))
        return dataclasses.replace(spec, stages=stages)


FAMILIES = [PRN(), CSP(), ELAN(), OSA(), StopGrad()]
FAMILIES += [CSP(v) for v in CSP_VARIANTS] + [StopGrad(v) for v in STOPGRAD_VARIANTS]
FAMILIES += [OSA("all"), OSA("planned"), CSPOSA()]
FAMILIES += [Act()] + [Act(k) for k in ACTIVATIONS]
FAMILIES += ODE_SAMPLERS
for _fam in FAMILIES:
    register_modifier(_fam.name, lambda base, fam=_fam: FamilySpace(base, fam))
