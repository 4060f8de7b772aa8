"""Stage options of the seed families: validated in one place, with one-line UsageErrors.

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
    ode:      {scheme: one of SCHEMES, n: RK blocks, suppress: h in (0, 1] (inner states a_ij only; s >= 2),
               shortcut: "proj" | "zeropad" (option A: x[:, :, ::s, ::s] zero-padded to C_out, HO-ResNet),
               block: "post" | "preact" (HO-ResNet's F = BN-ReLU-conv3x3-BN-ReLU-conv3x3; res_basic)}
    act:      "relu" | "silu" | "leaky_relu" (0.1, darknet / yolov7-tiny) | "hswish": the stage's
              activation (yolov7 uses SiLU); the stem takes the first stage's, the head conv the last's
              depth = number of residual sub-functions = s * n (+1 for a CSP entry block)
Missing keys take the defaults below; unknown keys and values are errors.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...errors import UsageError
from ...spec import MAX_DEPTH, MAX_WIDTH
from .ode import SCHEMES, stages_of

STAGE_OPTIONS = ("prn", "csp", "elan", "osa", "stopgrad", "ode", "act")
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
    "ode": {"scheme": "euler", "n": None, "suppress": 1.0, "shortcut": "proj", "block": "post"},
}


@dataclass(frozen=True)
class StageOptions:
    """The parsed options of one stage (defaults filled in)."""

    topology: str = "residual"
    prn_ratio: float = 1.0  # 1 = full shortcut (ResNet)
    prn_slice: bool = False
    stopgrad: str = "none"
    scheme: str = "euler"
    rk_blocks: int = 0  # n; 0 when the stage has no ode option (one block per sub-function)
    suppress: float = 1.0
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
    zeropad: bool = False  # option-A shortcut (ode.shortcut "zeropad")
    preact: bool = False  # pre-activation residual functions (ode.block "preact")
    act: str = "relu"
    has_prn: bool = False
    has_ode: bool = False

    @property
    def order(self) -> int:
        return stages_of(self.scheme)

    @property
    def body_depth_offset(self) -> int:
        """Sub-functions outside the (CSP) body: the CSP entry block."""
        return 1 if self.topology == "csp" and not self.csp_conv_entry else 0


def _fields(name: str, value: Any) -> dict:
    if not isinstance(value, dict) and not hasattr(value, "keys"):
        raise UsageError(f"family option {name} must be a mapping, got {value!r}")
    value = dict(value)
    unknown = set(value) - set(DEFAULTS[name])
    if unknown:
        raise UsageError(f"unknown key(s) {', '.join(sorted(unknown))} in family option {name}; "
                         f"valid: {', '.join(DEFAULTS[name])}")
    return {**DEFAULTS[name], **value}


def _choice(name, key, value, valid):
    if value not in valid:
        raise UsageError(f"{name}.{key} must be one of {', '.join(map(str, valid))}, got {value!r}")
    return value


def _ratio(name, key, value, lo, hi, lo_open=True, hi_open=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"{name}.{key} must be a number, got {value!r}")
    bad = (value <= lo if lo_open else value < lo) or (value >= hi if hi_open else value > hi)
    if bad:
        span = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
        raise UsageError(f"{name}.{key} must be in {span}, got {value!r}")
    return float(value)


def _count(name, key, value, minimum=1, maximum=MAX_DEPTH):
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise UsageError(f"{name}.{key} must be an integer in {minimum}..{maximum:,}, got {value!r}")
    return value


def _bool(name, key, value):
    if not isinstance(value, bool):
        raise UsageError(f"{name}.{key} must be true or false, got {value!r}")
    return value


def parse_stage(stage) -> StageOptions:
    """Validate one StageSpec's family options and how they combine -> StageOptions."""
    fam = stage.family
    unknown = set(fam) - set(STAGE_OPTIONS)
    if unknown:
        raise UsageError(f"unknown stage option(s) {', '.join(sorted(unknown))}; valid: {', '.join(STAGE_OPTIONS)}")
    kw: dict = {}
    topologies = [k for k in ("csp", "elan", "osa") if k in fam]
    kw["csp_osa"] = csp_osa = topologies == ["csp", "osa"]
    if len(topologies) > 1 and not csp_osa:
        raise UsageError(f"a stage takes one of csp, elan, osa (or csp with osa); got {', '.join(topologies)}")
    topology = topologies[0] if topologies else "residual"
    kw["topology"] = topology
    residual_opts = [k for k in ("prn", "stopgrad", "ode") if k in fam]
    if ("elan" in fam or "osa" in fam) and residual_opts:
        raise UsageError(f"{'elan' if 'elan' in fam else 'osa'} stages have no residual blocks; "
                         f"{', '.join(residual_opts)} cannot apply")
    if residual_opts and stage.block == "vanilla":
        raise UsageError(f"{', '.join(residual_opts)} need residual blocks (res_basic or res_bottleneck), "
                         f"not vanilla")
    if "prn" in fam:
        o = _fields("prn", fam["prn"])
        kw.update(has_prn=True, prn_ratio=_ratio("prn", "partial_ratio", o["partial_ratio"], 0, 1, lo_open=False),
                  prn_slice=_choice("prn", "shape_change", o["shape_change"], ("proj", "slice")) == "slice")
    if "act" in fam:
        kw["act"] = _choice("family", "act", fam["act"], ACTIVATIONS)
    if "stopgrad" in fam:
        kw["stopgrad"] = _choice("family", "stopgrad", fam["stopgrad"], STOPGRAD_VARIANTS)
    if "ode" in fam:
        o = _fields("ode", fam["ode"])
        scheme = _choice("ode", "scheme", o["scheme"], SCHEMES)
        kw.update(has_ode=True, scheme=scheme, suppress=_ratio("ode", "suppress", o["suppress"], 0, 1))
        if o["n"] is None:
            raise UsageError("ode.n (the number of RK blocks) is required")
        kw["rk_blocks"] = _count("ode", "n", o["n"])
        if kw["suppress"] != 1.0 and (scheme == "lm" or stages_of(scheme) < 2):
            raise UsageError(f"ode.suppress scales the inner states a_ij of a Runge-Kutta scheme with s >= 2; "
                             f"{scheme} has none")
        kw["zeropad"] = _choice("ode", "shortcut", o["shortcut"], ("proj", "zeropad")) == "zeropad"
        kw["preact"] = _choice("ode", "block", o["block"], ("post", "preact")) == "preact"
        if kw["preact"] and stage.block != "res_basic":
            raise UsageError("ode.block preact is HO-ResNet's basic block: it needs res_basic stages")
        if kw["zeropad"] and "prn" in fam:
            raise UsageError("ode.shortcut zeropad and prn both set the shortcut; use one")
        if (stages_of(scheme) > 1 or scheme == "lm") and ("prn" in fam or kw.get("stopgrad", "none") != "none"):
            raise UsageError(f"ode scheme {scheme} combines with neither prn nor stopgrad (only euler does)")
    if topology == "csp":
        o = _fields("csp", fam["csp"])
        kw.update(csp_variant=_choice("csp", "variant", o["variant"], CSP_VARIANTS),
                  csp_ratio=_ratio("csp", "split_ratio", o["split_ratio"], 0, 1, hi_open=True),
                  csp_conv_split=_choice("csp", "split", o["split"], ("conv", "slice")) == "conv",
                  csp_conv_entry=_choice("csp", "entry", o["entry"], ("block", "conv")) == "conv")
        if stage.block == "vanilla" and not csp_osa:
            raise UsageError("csp stages need residual blocks (res_basic or res_bottleneck), not vanilla")
        if csp_osa and not kw["csp_conv_entry"]:
            raise UsageError('csp over osa modules needs csp.entry "conv"')
    if topology == "elan":
        o = _fields("elan", fam["elan"])
        kw.update(elan_rho=_ratio("elan", "partial_ratio", o["partial_ratio"], 0, 1),
                  elan_eta=_ratio("elan", "hidden_ratio", o["hidden_ratio"], 0, 1),
                  elan_m=_count("elan", "convs", o["convs"]), elan_r=_count("elan", "agg_every", o["agg_every"]),
                  elan_blocks=_count("elan", "blocks", o["blocks"]),
                  elan_transition=_bool("elan", "transition", o["transition"]),
                  elan_mp=_choice("elan", "entry", o["entry"], ("mp", "conv")) == "mp")
        if kw["elan_m"] % kw["elan_r"]:
            raise UsageError(f"elan.agg_every r={kw['elan_r']} must divide elan.convs m={kw['elan_m']}")
        if stage.depth != kw["elan_m"] * kw["elan_blocks"]:
            raise UsageError(f"elan stage depth must be convs * blocks = {kw['elan_m'] * kw['elan_blocks']}, "
                             f"got {stage.depth}")
    if "osa" in fam:
        o = _fields("osa", fam["osa"])
        if o["hidden"] is None:
            raise UsageError("osa.hidden (the hidden width c_h) is required")
        kw.update(osa_hidden=_count("osa", "hidden", o["hidden"], maximum=MAX_WIDTH), osa_m=_count("osa", "convs", o["convs"]))
        t = o["transition"]
        if isinstance(t, (list, dict)) or t not in OSA_TRANSITIONS or (not isinstance(t, bool) and isinstance(t, int)):
            raise UsageError(f"osa.transition must be true, false, all, last or none, got {t!r}")
        kw["osa_transition"] = OSA_TRANSITIONS[t]
        kw["osa_ceil"] = _choice("osa", "pool", o["pool"], ("pad", "ceil")) == "ceil"
        if stage.depth % kw["osa_m"]:
            raise UsageError(f"osa stage depth {stage.depth} must be a multiple of osa.convs {kw['osa_m']}")
    if stage.block == "res_bottleneck" and (topology == "residual" or (topology == "csp" and not kw["csp_conv_entry"])):
        stage.check_groups()  # X blocks at the stage width (a CSP body runs at its own, adjusted width)
    opts = StageOptions(**kw)
    if opts.has_ode:
        expected = opts.order * opts.rk_blocks + opts.body_depth_offset
        if stage.depth != expected:
            where = " (+1 for the CSP entry block)" if opts.body_depth_offset else ""
            raise UsageError(f"ode stage depth must be s*n{where} = {expected} sub-functions "
                             f"({opts.scheme}: s={opts.order}, n={opts.rk_blocks}), got {stage.depth}")
    return opts


def parse_spec(spec) -> list[StageOptions]:
    """StageOptions of every stage of a spec (a one-line UsageError names the bad stage)."""
    out = []
    for j, st in enumerate(spec.stages):
        try:
            out.append(parse_stage(st))
        except UsageError as exc:
            raise UsageError(f"stage {j + 1}: {exc}") from None
    return out
