"""The shipped design spaces, as data in the space-definition format (definition.py).

AnyNetXA..E and RegNetX/Y have the distributions of the paper (and of pycls's conventions, see
distributions.py): AnyNetX depth log-uniform integers in [1, 16], width log-uniform multiples of 8
in [8, 1024], b in {1, 2, 4}, g in {1, 2, 4, 8, 16, 32}; RegNet d < 64, w0 in [8, 256] (multiple of
8), wa in [1, 256] (step 0.1), 1.5 <= wm <= 3 (step 0.001), with the paper's ranges rather than
pycls's narrower sweep defaults. Then the refinements the paper tests.
"""
from __future__ import annotations

ANYNET_PARAMS = {
    "d": {"log_int": [1, 16], "per_stage": True},
    "w": {"log_uniform": [8, 1024], "q": 8, "int": True, "per_stage": True},
    "b": {"choice": [1, 2, 4], "per_stage": True},
    "g": {"choice": [1, 2, 4, 8, 16, 32], "per_stage": True},
}
REGNET_PARAMS = {
    "d": {"int": [1, 63]},
    "w0": {"log_uniform": [8, 256], "q": 8, "int": True},
    "wa": {"log_uniform": [1, 256], "q": 0.1},
    "wm": {"log_uniform": [1.5, 3], "q": 0.001},
    "b": {"choice": [1, 2, 4]},
    "g": {"choice": [1, 2, 4, 8, 16, 32]},
}
SHARED = {"per_stage": False}
# The constrained RegNetX's complexity limits: the trend lines of the paper's complexity figure
# (activations ~ 6.5 sqrt(f), parameters ~ 3.0 + 5.5 f; f in GF, results in M), as upper limits.
# Every pycls zoo RegNetX (200MF, 400MF, 8GF) satisfies them (tests/test_spaces_definitions.py).
PARAMS_LIMIT = "params <= 3.0M + 5.5M * flops / 1G"
ACTS_LIMIT = "acts <= 6.5M * sqrt(flops / 1G)"

BUILTIN: list[dict] = [
    {"name": "AnyNetXA", "description": "AnyNetX, all 16 stage parameters free (d_i, w_i, b_i, g_i)",
     "kind": "anynet", "stages": 4, "block": "res_bottleneck", "params": ANYNET_PARAMS},
    {"name": "AnyNetXB", "base": "AnyNetXA", "description": "AnyNetXA with a shared bottleneck ratio b",
     "params": {"b": SHARED}},
    {"name": "AnyNetXC", "base": "AnyNetXB", "description": "AnyNetXB with a shared group width g",
     "params": {"g": SHARED}},
    {"name": "AnyNetXD", "base": "AnyNetXC", "description": "AnyNetXC with non-decreasing widths",
     "params": {"w": {"non_decreasing": True}}},
    {"name": "AnyNetXE", "base": "AnyNetXD", "description": "AnyNetXD with non-decreasing depths",
     "params": {"d": {"non_decreasing": True}}},
    {"name": "RegNetX", "description": "RegNet with X blocks: quantized linear widths (d, w0, wa, wm), shared b, g",
     "kind": "regnet", "stages": 4, "block": "res_bottleneck", "params": REGNET_PARAMS},
    {"name": "RegNetY", "base": "RegNetX",
     "description": "RegNetX + squeeze-and-excitation (ratio 0.25 of the block input width)", "se": 0.25},
    # --- the paper's refinements of RegNetX ---
    {"name": "RegNetX-wm2", "base": "RegNetX", "description": "RegNetX with wm = 2", "params": {"wm": {"fixed": 2}}},
    {"name": "RegNetX-w0wa", "base": "RegNetX", "description": "RegNetX with w0 = wa", "tie": {"w0": "wa"}},
    {"name": "RegNetX-constrained", "base": "RegNetX",
     "description": "RegNetX with b = 1, d <= 40, wm >= 2 and the paper's parameter and activation limits",
     "params": {"b": {"fixed": 1}}, "constraints": ["d <= 40", "wm >= 2", PARAMS_LIMIT, ACTS_LIMIT]},
    # --- generalization: 5 stages ---
    {"name": "AnyNetXA-5stage", "base": "AnyNetXA", "description": "AnyNetXA with 5 stages", "stages": 5},
    {"name": "AnyNetXE-5stage", "base": "AnyNetXE", "description": "AnyNetXE with 5 stages", "stages": 5},
    {"name": "RegNetX-5stage", "base": "RegNetX", "description": "RegNetX with 5 stages", "stages": 5},
    # --- block types (appendix): vanilla (V) and residual basic (R) blocks have no b, g ---
    {"name": "AnyNetVA", "base": "AnyNetXA", "description": "AnyNetXA's stages with vanilla blocks (two 3x3 convs)",
     "block": "vanilla", "params": {"b": {"fixed": 1}, "g": {"fixed": 1}}},
    {"name": "AnyNetRA", "base": "AnyNetXA", "description": "AnyNetXA's stages with residual basic blocks",
     "block": "res_basic", "params": {"b": {"fixed": 1}, "g": {"fixed": 1}}},
    {"name": "RegNetV", "base": "RegNetX", "description": "RegNet with vanilla blocks (two 3x3 convs)",
     "block": "vanilla", "params": {"b": {"fixed": 1}, "g": {"fixed": 1}}},
    {"name": "RegNetR", "base": "RegNetX", "description": "RegNet with residual basic blocks",
     "block": "res_basic", "params": {"b": {"fixed": 1}, "g": {"fixed": 1}}},
    # --- bottleneck and group variants (appendix) ---
    {"name": "RegNetX-inverted", "base": "RegNetX",
     "description": "RegNetX with an inverted bottleneck (b < 1: the 3x3 conv is 2-4x wider than the block)",
     "params": {"b": {"choice": [0.25, 0.5]}}},
    {"name": "RegNetX-depthwise", "base": "RegNetX", "description": "RegNetX with depthwise 3x3 convs (g = 1)",
     "params": {"g": {"fixed": 1}}},
    {"name": "RegNetX-inverted-depthwise", "base": "RegNetX",
     "description": "RegNetX with an inverted bottleneck (b < 1) and depthwise convs (g = 1), MobileNetV2-style",
     "params": {"b": {"choice": [0.25, 0.5]}, "g": {"fixed": 1}}},
]
