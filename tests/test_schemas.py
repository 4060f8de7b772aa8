"""Every user-facing schema (designspace.schema's one layer) rejects a wrong type, an out-of-range value
and an unknown key with one line naming the key; one source for each limit."""
import pytest

from designspace.errors import UsageError


def sweep(raw):
    from designspace.sweep import parse_config

    base = {"name": "t", "spaces": ["RegNetX"], "models_per_space": 2, "flops": "0.2M:1M",
            "dataset": {"name": "synthetic", "train_size": 64, "test_size": 32}}
    return parse_config({**base, **raw}, "cfg.yaml")


def recipe(raw):
    from designspace.train import Recipe

    return Recipe.from_dict(raw)


def space(raw):
    from designspace.spaces import get_space

    return get_space({"name": "x", "base": "AnyNetXA", **raw})


def param(raw):
    from designspace.spaces.distributions import Param

    return Param.from_dict(raw, "parameter 'w'")


def spec(raw):
    from designspace.spec import ModelSpec

    return ModelSpec.from_dict({"stages": [{"depth": 1, "width": 16, "block": "res_basic", **raw}]})


def synthetic(raw):
    from designspace.data import check_synthetic_options

    return check_synthetic_options(**raw)


def dyrep(raw):
    from designspace.train import Recipe

    return Recipe.from_dict({"epochs": 2, "dyrep": raw})


def prn(raw):
    from designspace.families.gradient_paths.options import parse_stage
    from designspace.spec import StageSpec

    return parse_stage(StageSpec(depth=2, width=32, block="res_basic", family={"prn": raw}))


def suite(raw):
    """A one-claim suite; `part` and `arm` edit its first part and that part's arm a."""
    from designspace.claims import parse_suite

    raw = dict(raw)
    arm = {"sweep": "s", "space": "RegNetX", **raw.pop("arm", {})}
    part = {"statistic": "median_diff", "a": arm, "b": {"sweep": "s", "space": "AnyNetXA"}, "expect": "less",
            **raw.pop("part", {})}
    return parse_suite({"suite": "t", "tier": "cpu", "defaults": {"dataset": {"name": "synthetic"}},
                        "sweeps": {"s": {"spaces": ["RegNetX", "AnyNetXA"], "models_per_space": 3}},
                        "claims": [{"id": 1, "text": "t", "figure": "-", "parts": [part]}], **raw}, "suite.yaml")


def rep(raw):
    from designspace.complexity import complexity

    return complexity([spec({"family": {"rep": raw}})], "cifar")


def condensenet(raw):
    from designspace.families.condensenet import condensenet_spec

    return condensenet_spec(**{"blocks": [2, 2], "growth": [8, 8], "groups": 4, "condense": 4, **raw})


def condense(raw):
    from designspace.train import Recipe

    return Recipe.from_dict({"epochs": 2, "condense": raw})


CASES = [  # (schema, input, words the one line must hold)
    (sweep, {"models_per_space": "many"}, ["config key 'models_per_space'", "must be an integer", "'many'"]),
    (sweep, {"models_per_space": 0}, ["config key 'models_per_space'", "must be >= 1"]),
    (sweep, {"modles_per_space": 3}, ["unknown config key 'modles_per_space'", "valid: name, store, spaces"]),
    (sweep, {"resources": {"cpus": "two"}}, ["config key 'resources.cpus'", "finite number"]),
    (sweep, {"resources": {"cpus": 1e9}}, ["config key 'resources.cpus'", "<= 4,096"]),
    (sweep, {"resources": {"tpus": 1}}, ["unknown config key 'resources.tpus'", "valid: cpus, gpus"]),
    (sweep, {"dataset": {"name": "mnist"}}, ["config key 'dataset.name'", "fashion-mnist", "synthetic"]),
    (sweep, {"dataset": {"name": "cifar10", "noise": 1.0}}, ["config key 'dataset'", "no option 'noise'"]),
    (sweep, {"checkpoints": "yes"}, ["config key 'checkpoints'", "true or false"]),
    (sweep, {"timeout": 0}, ["config key 'timeout'", "must be > 0"]),
    (sweep, {"train_seed": -1}, ["config key 'train_seed'", "must be >= 0"]),
    (sweep, {"recipe": {"epochs": "1"}}, ["config key 'recipe.epochs'", "finite number"]),
    (recipe, {"batch_size": 1.5}, ["'recipe.batch_size'", "must be an integer"]),
    (recipe, {"epochs": 10**6}, ["'recipe.epochs'", "<= 10,000"]),
    (recipe, {"momentum": 1.0}, ["'recipe.momentum'", "< 1"]),
    (recipe, {"learning_rate": 0.1}, ["unknown recipe key recipe.learning_rate", "valid:"]),
    (space, {"stages": "four"}, ["space key 'stages'", "must be an integer"]),
    (space, {"stages": 99}, ["space key 'stages'", "<= 16"]),
    (space, {"stagse": 4}, ["unknown space key 'stagse'", "valid: name, description, base"]),
    (space, {"block": "res_huge"}, ["space key 'block'", "res_bottleneck"]),
    (param, {"uniform": ["a", 2]}, ["'uniform[0]'", "finite number"]),
    (param, {"uniform": [1, 2], "q": -1}, ["'q'", ">= 0"]),
    (param, {"gaussian": [1, 2]}, ["unknown key 'gaussian'", "valid: uniform, log_uniform, int"]),
    (spec, {"width": "wide"}, ["'stage.width'", "must be an integer"]),
    (spec, {"width": 10**9}, ["'stage.width'", "<= 16,384"]),
    (synthetic, {"train_size": "x"}, ["option 'train_size'", "must be an integer"]),
    (synthetic, {"image_size": 10**6}, ["option 'image_size'", "<= 512"]),
    (synthetic, {"colour": 3}, ["unknown option 'colour'", "valid: train_size"]),
    (dyrep, {"interval": "often"}, ["'recipe.dyrep.interval'", "must be an integer"]),
    (dyrep, {"interval": 0}, ["'recipe.dyrep.interval'", ">= 1"]),
    (dyrep, {"metric": "snap"}, ["'recipe.dyrep.metric'", "synflow"]),
    (dyrep, {"branchez": [1]}, ["unknown key 'recipe.dyrep.branchez'", "valid: metric, interval"]),
    (prn, {"partial_ratio": "half"}, ["prn.partial_ratio", "finite number"]),
    (prn, {"partial_ratio": 2}, ["prn.partial_ratio", "<= 1"]),
    (prn, {"ratio": 0.5}, ["unknown key 'ratio'", "valid: partial_ratio, shape_change"]),
    (suite, {"statistics": {"resamples": "many"}}, ["suite.yaml: suite key 'statistics.resamples'", "an integer"]),
    (suite, {"statistics": {"level": 2}}, ["suite key 'statistics.level'", "<= 0.999", "got 2"]),
    (suite, {"statistics": {"resampels": 100}}, ["unknown suite key 'statistics.resampels'", "valid: resamples"]),
    (suite, {"statistics": {"seed": 2**32}}, ["suite key 'statistics.seed'", "<= 4,294,967,295"]),
    (suite, {"part": {"margin": "wide"}}, ["suite key 'claims[0].parts[0].margin'", "finite number", "'wide'"]),
    (suite, {"part": {"margin": -1}}, ["suite key 'claims[0].parts[0].margin'", ">= 0"]),
    (suite, {"part": {"expect": "better"}}, ["'claims[0].parts[0].expect'", "'less', 'greater'", "'better'"]),
    (suite, {"part": {"log": "yes"}}, ["'claims[0].parts[0].log'", "true or false"]),
    (suite, {"part": {"expcet": "less"}}, ["unknown suite key 'claims[0].parts[0].expcet'", "valid: name, statistic"]),
    (suite, {"arm": {"select": "best:2"}}, ["'claims[0].parts[0].a.select'", "best:F", "'best:2'"]),
    (suite, {"arm": {"spcae": "RegNetX"}}, ["unknown suite key 'claims[0].parts[0].a.spcae'", "valid: sweep, sweeps"]),
    (suite, {"tier": "tpu"}, ["suite key 'tier'", "'cpu', 'gpu'", "'tpu'"]),
    (suite, {"claims": [{"id": "one", "text": "t", "figure": "-"}]}, ["suite key 'claims[0].id'", "an integer"]),
    (suite, {"sweeps": {"a/b": {"spaces": ["RegNetX"]}}}, ["suite key 'sweeps.a/b'", "letters, digits"]),
    (rep, {"branches": "012"}, ["rep: option 'branches'", "must be a list"]),
    (rep, {"branches": [0, 7]}, ["rep: option 'branches[1]'", "<= 6", "got 7"]),
    (rep, {"internal_mult": 1.5}, ["rep: option 'internal_mult'", "an integer"]),
    (rep, {"branch": [0]}, ["rep: unknown option 'branch'", "valid: branches, internal_mult"]),
    (condensenet, {"groups": "four"}, ["condensenetv2: option 'groups'", "an integer", "'four'"]),
    (condensenet, {"growth": [8, 10**6]}, ["condensenetv2: option 'growth[1]'", "<= 16,384"]),
    (condensenet, {"head_se": -1}, ["condensenetv2: option 'head_se'", ">= 0"]),
    (condensenet, {"colour": 3}, ["condensenetv2: unknown option 'colour'", "valid: blocks, growth, groups"]),
    (condense, {"lasso": "strong"}, ["'recipe.condense.lasso'", "finite number"]),
    (condense, {"lasso": -1e-5}, ["'recipe.condense.lasso'", ">= 0"]),
    (condense, {"lassoo": 1e-5}, ["unknown key 'recipe.condense.lassoo'", "valid: lasso"]),
]


@pytest.mark.parametrize("schema, raw, words", CASES, ids=[f"{c[0].__name__}-{list(c[1])[0]}" for c in CASES])
def test_each_schema_names_the_key_in_one_line(schema, raw, words):
    with pytest.raises(UsageError) as exc:
        schema(raw)
    text = str(exc.value)
    assert "\n" not in text
    for word in words:
        assert word in text, text


def test_each_limit_has_one_source():
    from designspace import limits, spec, train
    from designspace.spaces import columns, definition

    assert spec.MAX_STAGES is limits.MAX_STAGES and not hasattr(definition, "SCHEMA")
    assert columns.MAX_STAGES == limits.MAX_STAGES and definition.MAX_STAGES == limits.MAX_STAGES
    assert not hasattr(train, "RECIPE_LIMITS")
    assert train.RECIPE_FIELDS.field("batch_size").le == limits.MAX_BATCH
    assert train.RECIPE_FIELDS.field("epochs").le == limits.MAX_EPOCHS
    from designspace.schema import model_of  # and the pydantic model is built from that declaration

    fields = model_of(train.RECIPE_FIELDS).model_fields
    assert fields["batch_size"].metadata[-1].le == limits.MAX_BATCH
    assert fields["epochs"].metadata[-1].le == limits.MAX_EPOCHS


def test_a_space_and_a_spec_take_the_same_number_of_stages():
    from designspace.limits import MAX_STAGES
    from designspace.spaces import get_space

    s = get_space({"name": "deep", "base": "AnyNetXA", "stages": MAX_STAGES,
                   "params": {"d": {"int": [1, 2]}, "w": {"log_uniform": [8, 64], "q": 8, "int": True}}})
    models = s.sample(2, regime="cifar", flops="0:1000G")
    assert all(len(m.stages) == MAX_STAGES for m in models)


def _fast_check_agrees_with_validation(record, candidates, stride=7) -> int:
    """Whatever fields.canonical_check(record) passes, validation returns unchanged, types included; whatever
    validation would change or refuse, it does not pass. Returns how many value tuples it passed."""
    import itertools

    from designspace.errors import UsageError
    from designspace.fields import canonical_check
    from designspace.schema import validate_record

    check = canonical_check(record)
    names = record.keys
    passed = 0
    for values in itertools.islice(itertools.product(*(candidates[n] for n in names)), 0, None, stride):
        if check(values):
            passed += 1
            got = tuple(validate_record(record, dict(zip(names, values))).values())
            assert all(type(a) is type(b) and (a == b) for a, b in zip(got, values)), values
        else:  # validation changes it (1 -> 1.0, 3.0 -> 3) or refuses it
            try:
                got = tuple(validate_record(record, dict(zip(names, values))).values())
            except UsageError:
                continue
            assert any(type(a) is not type(b) for a, b in zip(got, values)), values
    return passed


def test_a_stages_canonical_fast_check_passes_only_what_validation_returns_unchanged():
    """spec.StageSpec skips pydantic when fields.canonical_check (compiled from spec.STAGE_FIELDS) passes."""
    import math

    from designspace.spec import STAGE_FIELDS

    candidates = {
        "depth": [0, 3, 1000, 1001, -1, 3.0, True], "width": [8, 16384, 16385, 0, 8.0],
        "stride": [1, 2, 16, 17, 2.0], "block": ["res_bottleneck", "vanilla", "nope", 1],
        "bottleneck_ratio": [1.0, 0.25, 1, 0.0, -1.0, math.inf, math.nan],
        "group_width": [1, 16, 0, 1.0], "se_ratio": [0.0, -0.0, 0.25, 1.0, 0, math.nan],
    }
    passed = _fast_check_agrees_with_validation(STAGE_FIELDS, candidates)
    assert passed > 10


def test_the_fast_check_of_optional_and_flag_fields_agrees_with_validation():
    """The recipe's record has flags and optional integers: the same agreement, on every kind of field."""
    from designspace.fields import Bound, Record

    record = Record("r", (("flag", Bound(bool)), ("size", Bound(int, gt=0, le=10, optional=True)),
                          ("rate", Bound(float, ge=0, lt=1))))
    candidates = {"flag": [True, False, 1, 0, None, "yes"], "size": [None, 1, 10, 11, 0, 3.0, True, "3"],
                  "rate": [0.0, 0.5, 0, 1.0, -0.1, float("nan"), None]}
    assert _fast_check_agrees_with_validation(record, candidates, stride=1) > 10


def test_bound_check_returns_canonical_values_and_one_line_errors():
    from designspace.errors import UsageError
    from designspace.limits import SEED

    assert SEED.check(7, "seed") == 7 and type(SEED.check(7.0, "seed")) is int
    for bad, words in ((-1, ">= 0"), (2**32, "<= 4,294,967,295"), ("1", "integer"), (True, "integer"),
                       (1.5, "integer")):
        with pytest.raises(UsageError) as err:
            SEED.check(bad, "--seed")
        assert str(err.value).startswith("--seed must be") and words in str(err.value) and "\n" not in str(err.value)


def test_sampling_a_shipped_space_imports_no_pydantic(tmp_path):
    """The schemas are the validators of user input; building what a sampler draws needs none of them, so
    `designspace sample` does not pay pydantic's import (about as long as numpy's) at every start."""
    import subprocess
    import sys

    out = tmp_path / "s.jsonl"
    code = ("import sys\nfrom designspace.cli import main\n"
            f"assert main(['sample', '--space', 'AnyNetXE', '-n', '20', '--seed', '3', '--out', {str(out)!r}]) == 0\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'pydantic', 'pydantic_core', 'torch', 'pandas'}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout + done.stderr
    assert len(out.read_text().splitlines()) == 20
