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
