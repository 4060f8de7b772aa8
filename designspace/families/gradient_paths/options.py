"""Stage options of the gradient-path families (seed 000) and the stage keys they share a stage with,
validated in one place, with one-line UsageErrors.

They are one family because they combine per stage: a CSP stage's body is residual units (with PRN
shortcuts, stop-gradient or ODE stacking) or OSA modules (CSPVoVNet); PRN and stop-gradient rewire
the residual units of any residual stage; ``act`` sets any stage's activation. This module parses a
stage's options together and checks how they combine; ``ode`` itself is parsed by the ODE package
(designspace.families.ode.options), the combination rules with it are here.

A stage's ``family`` dict may hold (seed-families.md §0):
    prn:      {partial_ratio: γ in [0, 1], shape_change: "proj" | "slice"}
    csp:      {variant: "csp" | "fusion_first" | "fusion_last", split_ratio: γ in (0, 1),
               split: "conv" | "slice", entry: "block" | "conv"}
    elan:     {partial_ratio: ρ, hidden_ratio: η, convs: m, agg_every: r (r | m), blocks: n_e,
               transition: bool, entry: "mp" | "conv"}          stage depth = m * n_e
    osa:      {hidden: c_h, convs: m, transition: true | false | "all" | "last" | "none",
               pool: "pad" (3x3 s2 max pool, padding 1) | "ceil" (VoVNet: no padding, ceil_mode)}
              stage depth = m * (number of OSA modules)
    stopgrad: "none" | "residual" | "block"
    csp + osa: CSPVoVNet, a CSP stage whose body is OSA modules at the block-path width (csp.entry
              must be "conv": the body's modules are the stage depth)
    ode:      see designspace.families.ode.options; on residual or CSP stages, where
              depth = number of residual sub-functions = s * n (+1 for a CSP entry block);
              schemes other than euler take neither prn nor stopgrad, and option A's zero-pad
              shortcut does not go with prn (both set the shortcut)
    act:      "relu" | "silu" | "leaky_relu" (0.1, darknet / yolov7-tiny) | "hswish": the stage's
              activation (yolov7 uses SiLU); the stem takes the first stage's, the head conv the last's
Missing keys take the defaults below; unknown keys and values are errors.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...errors import UsageError
from ...spec import MAX_WIDTH
from ..common import choice, count, flag, option_fields, ratio
from ..ode.options import KEY as ODE
from ..ode.options import OdeOptions, check_depth, parse_ode

STAGE_OPTIONS = ("prn", "csp", "elan", "osa", "stopgrad", ODE, "act")
ACTIVATIONS = ("relu", "silu", "leaky_relu", "hswish")
TOPOLOGIES = ("residual", "csp", "elan", "osa")  # what a stage's block graph is
CSP_VARIANTS = ("csp", "fusion_first", "fusion_last")
STOPGRAD_VARIANTS = ("none", "residual", "block")
OSA_TRANSITIONS = {True: "all", False: "none", "all": "all", "last": "last", "none": "none"}

DEFAULTS = {
    "prn": {"partial_ratio": 0.5, "shape_change": "proj"},
    "csp": {"variant": "csp", "split_ratio": 0.5, "split": "conv", "entry": "block"},
    "elan": {"partial_ratio": 0.25, "hidden_ratio": 1.0, "convs": 4, "agg_every": 2, "blocks": 1,
             "transition": True, "entry": "mp"},
    "osa": {"hidden": None, "convs": 5, "transition": True, "pool": "pad"},
}


@dataclass(frozen=True)
class StageOptions:
    """The parsed options of one stage (defaults filled in)."""

    topology: str = "residual"
    prn_ratio: float = 1.0  # 1 = full shortcut (ResNet)
    prn_slice: bool = False
    stopgrad: str = "none"
    ode: OdeOptions | None = None  # None: one Euler unit per residual function
    csp_variant: str = "csp"
    csp_ratio: float = 0.5
    csp_conv_split: bool = True
    csp_conv_entry: bool = False
    elan_rho: float = 0.25
    elan_eta: float = 1.0
    elan_m: int = 4
    elan_r: int = 2
    elan_blocks: int = 1
    elan_transition: bool = True
    elan_mp: bool = True
    osa_hidden: int = 0
    osa_m: int = 5
    osa_transition: str = "all"
    csp_osa: bool = False  # a CSP stage whose body is OSA modules (CSPVoVNet)
    osa_ceil: bool = False  # VoVNet's ceil_mode max pool entry
    act: str = "relu"
    has_prn: bool = False

    @property
    def body_depth_offset(self) -> int:
        """Sub-functions outside the (CSP) body: the CSP entry block."""
        return 1 if self.topology == "csp" and not self.csp_conv_entry else 0


def _fields(name: str, value) -> dict:
    return option_fields(name, value, DEFAULTS[name])


def parse_stage(stage) -> StageOptions:
    """Validate one StageSpec's family options and how they combine -> StageOptions."""
    fam = stage.family
    unknown = set(fam) - set(STAGE_OPTIONS)
    if unknown:
        raise UsageError(f"unknown stage option(s) {', '.join(sorted(unknown))}; valid: {', '.join(STAGE_OPTIONS)}")
    kw = _topology(stage)
    kw.update(_shortcut_options(stage))
    for name, parse in (("csp", _csp), ("elan", _elan), ("osa", _osa)):
        if name in fam and (name != "csp" or kw["topology"] == "csp"):
            kw.update(parse(stage, _fields(name, fam[name]), kw))
    if stage.block == "res_bottleneck" and (kw["topology"] == "residual" or
                                            (kw["topology"] == "csp" and not kw["csp_conv_entry"])):
        stage.check_groups()  # X blocks at the stage width (a CSP body runs at its own, adjusted width)
    opts = StageOptions(**kw)
    if opts.ode is not None:
        offset = opts.body_depth_offset
        check_depth(opts.ode, stage.depth, offset, " (+1 for the CSP entry block)" if offset else "")
    return opts


def _topology(stage) -> dict:
    """What the stage's block graph is (residual, csp, elan, osa, or csp over osa), and whether the
    residual-only options can apply to it."""
    fam = stage.family
    topologies = [k for k in ("csp", "elan", "osa") if k in fam]
    csp_osa = topologies == ["csp", "osa"]
    if len(topologies) > 1 and not csp_osa:
        raise UsageError(f"a stage takes one of csp, elan, osa (or csp with osa); got {', '.join(topologies)}")
    residual_opts = [k for k in ("prn", "stopgrad", ODE) if k in fam]
    if ("elan" in fam or "osa" in fam) and residual_opts:
        raise UsageError(f"{'elan' if 'elan' in fam else 'osa'} stages have no residual blocks; "
                         f"{', '.join(residual_opts)} cannot apply")
    if residual_opts and stage.block == "vanilla":
        raise UsageError(f"{', '.join(residual_opts)} need residual blocks (res_basic or res_bottleneck), "
                         f"not vanilla")
    return {"csp_osa": csp_osa, "topology": topologies[0] if topologies else "residual"}


def _shortcut_options(stage) -> dict:
    """prn, stopgrad, ode (what the shortcut and the residual functions do) and the activation."""
    fam, kw = stage.family, {}
    if "prn" in fam:
        o = _fields("prn", fam["prn"])
        kw.update(has_prn=True, prn_ratio=ratio("prn", "partial_ratio", o["partial_ratio"], 0, 1, lo_open=False),
                  prn_slice=choice("prn", "shape_change", o["shape_change"], ("proj", "slice")) == "slice")
    if "act" in fam:
        kw["act"] = choice("family", "act", fam["act"], ACTIVATIONS)
    if "stopgrad" in fam:
        kw["stopgrad"] = choice("family", "stopgrad", fam["stopgrad"], STOPGRAD_VARIANTS)
    if ODE in fam:
        kw["ode"] = ode = parse_ode(fam[ODE], stage.block)
        if ode.zeropad and "prn" in fam:
            raise UsageError("ode.shortcut zeropad and prn both set the shortcut; use one")
        if ode.high_order and ("prn" in fam or kw.get("stopgrad", "none") != "none"):
            raise UsageError(f"ode scheme {ode.scheme} combines with neither prn nor stopgrad (only euler does)")
    return kw


def _csp(stage, o: dict, kw: dict) -> dict:
    out = dict(csp_variant=choice("csp", "variant", o["variant"], CSP_VARIANTS),
               csp_ratio=ratio("csp", "split_ratio", o["split_ratio"], 0, 1, hi_open=True),
               csp_conv_split=choice("csp", "split", o["split"], ("conv", "slice")) == "conv",
               csp_conv_entry=choice("csp", "entry", o["entry"], ("block", "conv")) == "conv")
    if stage.block == "vanilla" and not kw["csp_osa"]:
        raise UsageError("csp stages need residual blocks (res_basic or res_bottleneck), not vanilla")
    if kw["csp_osa"] and not out["csp_conv_entry"]:
        raise UsageError('csp over osa modules needs csp.entry "conv"')
    return out


def _elan(stage, o: dict, kw: dict) -> dict:
    out = dict(elan_rho=ratio("elan", "partial_ratio", o["partial_ratio"], 0, 1),
               elan_eta=ratio("elan", "hidden_ratio", o["hidden_ratio"], 0, 1),
               elan_m=count("elan", "convs", o["convs"]), elan_r=count("elan", "agg_every", o["agg_every"]),
               elan_blocks=count("elan", "blocks", o["blocks"]),
               elan_transition=flag("elan", "transition", o["transition"]),
               elan_mp=choice("elan", "entry", o["entry"], ("mp", "conv")) == "mp")
    if out["elan_m"] % out["elan_r"]:
        raise UsageError(f"elan.agg_every r={out['elan_r']} must divide elan.convs m={out['elan_m']}")
    if stage.depth != out["elan_m"] * out["elan_blocks"]:
        raise UsageError(f"elan stage depth must be convs * blocks = {out['elan_m'] * out['elan_blocks']}, "
                         f"got {stage.depth}")
    return out


def _osa(stage, o: dict, kw: dict) -> dict:
    if o["hidden"] is None:
        raise UsageError("osa.hidden (the hidden width c_h) is required")
    out = dict(osa_hidden=count("osa", "hidden", o["hidden"], maximum=MAX_WIDTH),
               osa_m=count("osa", "convs", o["convs"]))
    t = o["transition"]
    if isinstance(t, (list, dict)) or t not in OSA_TRANSITIONS or (not isinstance(t, bool) and isinstance(t, int)):
        raise UsageError(f"osa.transition must be true, false, all, last or none, got {t!r}")
    out["osa_transition"] = OSA_TRANSITIONS[t]
    out["osa_ceil"] = choice("osa", "pool", o["pool"], ("pad", "ceil")) == "ceil"
    if stage.depth % out["osa_m"]:
        raise UsageError(f"osa stage depth {stage.depth} must be a multiple of osa.convs {out['osa_m']}")
    return out


def parse_spec(spec) -> list[StageOptions]:
    """StageOptions of every stage of a spec (a one-line UsageError names the bad stage)."""
    out = []
    for j, st in enumerate(spec.stages):
        try:
            out.append(parse_stage(st))
        except UsageError as exc:
            raise UsageError(f"stage {j + 1}: {exc}") from None
    return out
