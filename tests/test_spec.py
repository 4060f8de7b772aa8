import json

import pytest

from designspace import ModelSpec, StageSpec, UsageError, get_space
from designspace.spec import FrozenDict


def _spec(**meta):
    stages = (StageSpec(depth=2, width=64, bottleneck_ratio=2, group_width=8),
              StageSpec(depth=3, width=128, se_ratio=0.25, family={"ode": {"scheme": "rk4", "n": 1}}))
    return ModelSpec(stages=stages, stem_width=32, meta=meta)


def test_json_round_trip_is_exact():
    spec = _spec(space="AnyNetXE", wa=36.44)
    back = ModelSpec.from_json(spec.to_json())
    assert back == spec and hash(back) == hash(spec)
    assert back.to_json() == spec.to_json()
    assert back.stages[1].family["ode"]["scheme"] == "rk4"


def test_round_trip_of_sampled_specs():
    for spec in get_space("RegNetY").sample(20, regime="cifar"):
        assert ModelSpec.from_dict(json.loads(spec.to_json())) == spec


def test_id_is_stable_and_ignores_meta():
    a, b = _spec(space="A"), _spec(space="B")
    assert a.id == b.id and len(a.id) == 16
    other = ModelSpec(stages=(StageSpec(depth=2, width=72),), stem_width=32)
    assert other.id != a.id
    # ints and integral floats are the same number: same canonical JSON, same id
    assert ModelSpec(stages=(StageSpec(depth=2, width=72, bottleneck_ratio=1),)).id == \
        ModelSpec(stages=(StageSpec(depth=2, width=72, bottleneck_ratio=1.0),)).id


def test_specs_are_frozen():
    spec = _spec()
    with pytest.raises(AttributeError):
        spec.stem_width = 3
    with pytest.raises(AttributeError):
        spec.stages[0].family.x = 1
    assert isinstance(spec.stages[1].family, FrozenDict)


@pytest.mark.parametrize("bad", [
    {"stages": [{"depth": 1, "width": 0}]},
    {"stages": [{"depth": 1, "width": 8, "block": "nope"}]},
    {"stages": [{"depth": 1, "width": 8, "frob": 1}]},
    {"stages": [{"depth": 0, "width": 8}]},
    {"stages": [{"depth": 1, "width": 8}], "colour": "red"},
    {"no_stages": []},
])
def test_invalid_specs_raise_usage_errors(bad):
    with pytest.raises(UsageError):
        ModelSpec.from_dict(bad)


def test_from_dict_accepts_a_sample_row():
    spec = _spec()
    assert ModelSpec.from_dict({"id": spec.id, "spec": spec.to_dict()}) == spec


def test_specs_pickle_for_ray_workers():
    import pickle

    spec = _spec(space="AnyNetXE")
    back = pickle.loads(pickle.dumps(spec))
    assert back == spec and back.id == spec.id and back.meta["space"] == "AnyNetXE"


# --- hand-written specs are checked (group widths, bounds) ------------------------------------------
def _bottleneck_spec(width, group_width, b=1.0):
    return {"stages": [{"depth": 1, "width": width, "stride": 2, "block": "res_bottleneck",
                        "bottleneck_ratio": b, "group_width": group_width}], "stem_width": 16}


BAD_GROUPS = [(_bottleneck_spec(50, 8), "not divisible by group_width 8"),
              (_bottleneck_spec(16, 32), "group_width 32 exceeds")]


@pytest.mark.parametrize("data,needle", BAD_GROUPS)
@pytest.mark.parametrize("command", ["describe", "train", "describe-gradient-paths"])
def test_group_width_mismatch_is_one_line_exit_2_in_every_command(tmp_path, capsys, data, needle, command):
    from designspace.cli import main

    path = tmp_path / "spec.json"
    path.write_text(json.dumps(data))
    argv = {"describe": ["describe", str(path)], "describe-gradient-paths": ["describe", str(path), "--gradient-paths"],
            "train": ["train", str(path), "--data", "synthetic", "--epochs", "0.01"]}[command]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err


@pytest.mark.parametrize("data,needle", BAD_GROUPS)
def test_group_width_mismatch_fails_a_sweep_trial_before_torch(data, needle):
    """A sweep worker rebuilds each trial's spec from its JSON: the same one-line error."""
    with pytest.raises(UsageError, match=needle):
        ModelSpec.from_json(json.dumps(data))


def test_compatible_group_widths_pass():
    for width, g, b in ((48, 8, 1.0), (64, 16, 2.0), (16, 16, 1.0)):
        ModelSpec.from_dict(_bottleneck_spec(width, g, b))


@pytest.mark.parametrize("change,needle", [
    ({"width": 10**9}, "'stage.width': must be <= 16,384, got 1000000000"),
    ({"depth": 10**6}, "'stage.depth': must be <= 1,000, got 1000000"),
    ({"stride": 1000}, "'stage.stride': must be <= 16, got 1000"),
    ({"bottleneck_ratio": 1e-6, "group_width": 1}, "bottleneck width"),
])
def test_stage_bounds_are_one_line_limits(change, needle):
    st = {"depth": 1, "width": 16, "stride": 2, "block": "res_bottleneck", "group_width": 8, **change}
    with pytest.raises(UsageError, match=needle) as exc:
        ModelSpec.from_dict({"stages": [st]})
    assert "\n" not in str(exc.value)


def test_model_bounds_are_one_line_limits():
    st = {"depth": 1, "width": 16, "block": "res_basic"}
    with pytest.raises(UsageError, match="'stages': must have at most 16 item"):
        ModelSpec.from_dict({"stages": [st] * 17})
    with pytest.raises(UsageError, match="stem_width"):
        ModelSpec.from_dict({"stages": [st], "stem_width": 10**9})


def test_largest_allowed_spec_keeps_complexity_positive_and_exact():
    """At the limits the int64 closed form must not wrap (width 1e9 used to print negative flops)."""
    from designspace import complexity
    from designspace.spec import MAX_DEPTH, MAX_STAGES, MAX_WIDTH

    st = StageSpec(depth=MAX_DEPTH, width=MAX_WIDTH, stride=1, block="res_bottleneck", group_width=MAX_WIDTH)
    spec = ModelSpec(stages=(st,) * MAX_STAGES, stem_width=MAX_WIDTH, head_width=MAX_WIDTH, stem_stride=1)
    cx = complexity(spec, "imagenet")
    h, w = 224, MAX_WIDTH
    block = (2 * w * w + 9 * w) * h * h  # 1x1, depthwise 3x3, 1x1 (no projection: w_in == w_out, stride 1)
    assert cx["flops"] > MAX_STAGES * MAX_DEPTH * block > 0
    assert cx["flops"] < 2**63 - 1


def test_gradient_paths_refuse_a_model_too_large_to_build(capsys, tmp_path):
    from designspace.cli import main

    st = {"depth": 1000, "width": 16, "stride": 1, "block": "res_basic"}
    path = tmp_path / "deep.json"
    path.write_text(json.dumps({"stages": [st] * 6, "stem_width": 16}))
    assert main(["describe", str(path), "--gradient-paths"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "past its limits" in err


@pytest.mark.parametrize("family,needle", [
    ({"osa": {"hidden": 10**6, "convs": 1}}, "osa.hidden"),
    ({"osa": {"hidden": 16384, "convs": 1, "transition": "none"}}, "at most 65,536 channels"),
    ({"elan": {"convs": 10**6, "agg_every": 1, "blocks": 1}}, "elan.convs"),
])
def test_family_option_bounds(family, needle):
    from designspace import complexity

    spec = ModelSpec.from_dict({"stages": [{"depth": 1000 if "osa" in family else 10, "width": 64, "block": "res_basic",
                                            "family": family}]})
    with pytest.raises(UsageError, match=needle) as exc:
        complexity(spec, "cifar")
    assert "\n" not in str(exc.value)


def test_condensenet_bounds():
    from designspace.families.condensenet import condensenet_spec

    with pytest.raises(UsageError, match="widen"):
        condensenet_spec(blocks=[1000] * 4, growth=[64] * 4, groups=4, condense=4)
    with pytest.raises(UsageError, match="at most"):
        condensenet_spec(blocks=[1] * 20, growth=[8] * 20, groups=4, condense=4)


def test_a_regime_too_large_for_int64_is_one_line():
    from designspace import complexity
    from designspace.spec import MAX_WIDTH

    st = StageSpec(depth=1000, width=MAX_WIDTH, stride=1, block="res_bottleneck", group_width=MAX_WIDTH)
    spec = ModelSpec(stages=(st,) * 16, stem_width=16, stem_stride=1)
    with pytest.raises(UsageError, match="too large to cost exactly") as exc:
        complexity(spec, "imagenet@4096")
    assert "\n" not in str(exc.value)
