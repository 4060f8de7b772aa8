"""The gradient-path metric (seed-families.md §1.5): closed forms for chains of basic blocks, PlainNet,
ELAN, and `designspace describe --gradient-paths`."""
import json

import pytest

from designspace import ModelSpec, StageSpec
from designspace.cli import main
from designspace.models.gradient_paths import spec_gradient_paths

CLOSED_FORMS = {  # (n, i, j) -> (min_len, max_len) of conv j of block i in a chain of n basic blocks
    "none": lambda n, i, j: (3 - j, 2 * (n - i) + 3 - j),
    "residual": lambda n, i, j: (2 * (n - i) + 3 - j, 2 * (n - i) + 3 - j),
    "block": lambda n, i, j: (3 - j, 3 - j),
}


def _chain(n, variant=None, block="res_basic"):
    fam = {"stopgrad": variant} if variant else {}
    return ModelSpec(stages=(StageSpec(depth=n, width=8, stride=1, block=block, family=fam),), stem_width=8)


@pytest.mark.parametrize("variant", list(CLOSED_FORMS))
@pytest.mark.parametrize("n", range(1, 7))
def test_closed_forms_for_basic_block_chains(n, variant):
    layers = {r["layer"]: (r["min"], r["max"]) for r in spec_gradient_paths(_chain(n, variant), "cifar")["layers"]}
    for i in range(1, n + 1):
        for j in (1, 2):
            assert layers[f"stages.0.{i - 1}.f.0.{j - 1}.0"] == CLOSED_FORMS[variant](n, i, j)


def test_plain_network_has_equal_shortest_and_longest_paths():
    res = spec_gradient_paths(_chain(4, block="vanilla"), "cifar")
    assert all(r["min"] == r["max"] for r in res["layers"])
    assert res["longest_shortest_path"] == res["longest_path"] == 9  # stem + 8 convs


def test_network_summary_of_a_plain_resnet_chain():
    res = spec_gradient_paths(_chain(3), "cifar")
    assert res["longest_shortest_path"] == 2 and res["longest_path"] == 7  # conv 1 of a block; the stem


@pytest.mark.parametrize("m,r", [(4, 2), (2, 1), (6, 3), (4, 1)])
def test_elan_block_paths(m, r):
    spec = ModelSpec(stages=(StageSpec(depth=m, width=32, stride=1, family={"elan": {
        "partial_ratio": 0.5, "hidden_ratio": 1.0, "convs": m, "agg_every": r, "blocks": 1}}),), stem_width=16)
    layers = {r_["layer"]: (r_["min"], r_["max"]) for r_ in spec_gradient_paths(spec, "cifar")["layers"]}
    b = "stages.0.0"
    assert layers[f"{b}.a.0"] == (2, 2)
    assert layers[f"{b}.h0.0"] == (2, m + 2)
    aggregated = set(range(m, 0, -r))
    for j in range(1, m + 1):
        j_star = min(k for k in aggregated if k >= j)
        assert layers[f"{b}.convs.{j - 1}.0"] == (j_star - j + 2, m - j + 2)
    assert layers[f"{b}.transition.0"] == (1, 1)


def test_describe_gradient_paths_cli(tmp_path, capsys):
    path = tmp_path / "spec.json"
    path.write_text(_chain(2, "residual").to_json())
    assert main(["describe", str(path), "--regime", "cifar", "--gradient-paths", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["longest_shortest_path"] == res["longest_path"] == 5
    assert main(["describe", str(path), "--regime", "cifar", "--gradient-paths"]) == 0
    out = capsys.readouterr().out
    assert "longest shortest path: 5" in out and "stages.0.1.f.0.1.0" in out
