"""Seed 001 E001-c needs the downsampling in the stem or in the first block, and repeats over seeds."""
import json

import pytest

from designspace import ModelSpec, StageSpec, UsageError, build, complexity, get_space
from designspace.models.counting import measure
from designspace.sweep import parse_config, plan_trials


def test_stem_stride_round_trips_and_leaves_other_ids_alone():
    plain = ModelSpec(stages=(StageSpec(depth=2, width=16),), stem_width=8)
    strided = ModelSpec(stages=(StageSpec(depth=2, width=16),), stem_width=8, stem_stride=2)
    assert "stem_stride" not in plain.to_dict() and plain.id != strided.id
    assert ModelSpec.from_json(strided.to_json()) == strided
    with pytest.raises(UsageError, match="stem_stride"):
        ModelSpec(stages=(StageSpec(depth=2, width=16),), stem_stride=-1)


@pytest.mark.parametrize("regime", ["cifar", "fashion-mnist", "imagenet"])
def test_stem_stride_overrides_the_regime(regime):
    from designspace import get_regime
    from designspace.complexity import SpecArrays, complexity_arrays

    rg = get_regime(regime)
    for stride in (1, 2, 4):
        spec = ModelSpec(stages=(StageSpec(depth=1, width=16, block="res_basic"),), stem_width=8, stem_stride=stride)
        cx = complexity(spec, regime)
        assert measure(build(spec, regime), (rg.channels, rg.im_size, rg.im_size)) == cx
        h = (rg.im_size - 1) // stride + 1
        assert complexity_arrays(SpecArrays.from_specs([spec]), regime, per_stage=True)["stem_acts"][0] == 8 * h * h


@pytest.mark.parametrize("name", ["DownsampleC4", "DownsampleC8+ode_rk4", "DownsampleC4+ode_lm"])
def test_downsample_spaces_hold_both_placements_exactly(name):
    specs = get_space(name).sample(2, regime="fashion-mnist", flops="1M:2G")
    placements = {(s.stem_stride, s.stages[0].stride) for s in specs}
    assert placements == {(2, 1), (1, 2)}  # one stride 2, in the stem or in the first block
    cx = complexity(specs, "fashion-mnist")
    for i, spec in enumerate(specs):
        got = measure(build(spec, "fashion-mnist"), (1, 28, 28))
        assert got == {k: int(cx[k][i]) for k in ("flops", "params", "acts")}
        assert ModelSpec.from_dict(json.loads(spec.to_json())) == spec
    with pytest.raises(UsageError, match="only 2 of 3"):
        get_space(name).sample(3, regime="fashion-mnist", flops="1M:2G")


def _config(**changes):
    raw = {"name": "rep", "spaces": ["DownsampleC4"], "models_per_space": 2, "flops": "1M:2G",
           "dataset": {"name": "synthetic", "train_size": 64, "test_size": 32}, "recipe": {"epochs": 1}}
    raw.update(changes)
    return parse_config(raw)


def test_repeats_train_every_model_with_consecutive_seeds():
    once, thrice = plan_trials(_config()), plan_trials(_config(repeats=3, seed=5))
    assert len(once) == 2 and len(thrice) == 6 and len({t["trial_id"] for t in thrice}) == 6
    assert sorted(t["seed"] for t in thrice) == [5, 5, 6, 6, 7, 7]
    assert {t["spec_id"] for t in thrice} == {t["spec_id"] for t in plan_trials(_config(seed=5))}
    assert [t["trial_id"] for t in once] == [t["trial_id"] for t in plan_trials(_config(repeats=1))]


@pytest.mark.parametrize("bad", [0, -1, 1.5, "x"])
def test_bad_repeats_name_the_key(bad):
    with pytest.raises(UsageError, match="repeats"):
        _config(repeats=bad)


def test_an_unreachable_cluster_address_fails_fast_with_one_line(tmp_path, capsys):
    import time

    import yaml

    from designspace.cli import main

    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"name": "addr", "spaces": ["DownsampleC4"], "models_per_space": 1,
                                   "flops": "1M:2G", "store": str(tmp_path / "r.db"),
                                   "dataset": {"name": "synthetic", "train_size": 64, "test_size": 32}}))
    for address in ("127.0.0.1:9", "ray://127.0.0.1:9"):
        start = time.time()
        assert main(["sweep", str(cfg), "--address", address]) == 2
        err = capsys.readouterr().err
        assert "cannot reach the Ray cluster" in err and err.count("\n") == 1 and time.time() - start < 20
