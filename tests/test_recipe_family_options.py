"""Family-owned recipe keys (Family.recipe_keys): the core Recipe names no family, yet a recipe's JSON
form and its trial ids read exactly as when `dyrep` and `condense` were Recipe fields."""
import json
import re
from pathlib import Path

import pytest

from designspace import UsageError, registry
from designspace.registry import Family, TrainHook, register_family
from designspace.store import trial_id
from designspace.train import Recipe

# recipe -> (trial id of a fixed spec/context, JSON of to_dict), computed with the Recipe that still had
# `dyrep` and `condense` fields
GOLDEN = [
    ({}, "02b7d59e1a611bf70e88", None),
    ({"epochs": 1, "dyrep": {"interval": 1, "stop": 2, "recal_batches": 2}}, "a95efdad91b3b876a1f2",
     {"dyrep": {"interval": 1, "recal_batches": 2, "stop": 2}, "epochs": 1.0}),
    ({"epochs": 8, "train_size": 5000, "dyrep": True}, "f679bf375dd725606bb8",
     {"dyrep": True, "epochs": 8.0, "train_size": 5000}),
    ({"epochs": 4, "condense": {"lasso": 1e-05}}, "0c15ca20c02397cf8ee6",
     {"condense": {"lasso": 1e-05}, "epochs": 4.0}),
    ({"epochs": 2, "dyrep": {"branches": [0, 1, 2], "metric": "snip"}, "condense": {"lasso": 0.0}},
     "7859ee80e7977b9162d1",
     {"condense": {"lasso": 0.0}, "dyrep": {"branches": [0, 1, 2], "metric": "snip"}, "epochs": 2.0}),
    ({"dyrep": False}, "34056d6d9c5bc426833e", {"dyrep": False}),
]


@pytest.mark.parametrize("given,tid,changed", GOLDEN)
def test_family_recipe_keys_keep_json_and_trial_ids(given, tid, changed):
    out = Recipe.from_dict(given).to_dict()
    assert out == {**Recipe().to_dict(), **(changed or {})}
    assert "family_options" not in out
    assert trial_id("0123456789abcdef", {"recipe": out, "dataset": {"name": "fashion-mnist"}}, 0) == tid
    assert Recipe.from_dict(out) == Recipe.from_dict(given)  # the JSON form round-trips


def test_family_options_are_read_through_the_accessor():
    r = Recipe.from_dict({"dyrep": {"interval": 2, "branches": [0, 3]}, "condense": None})
    assert r.family_option("dyrep") == {"interval": 2, "branches": [0, 3]}
    assert r.family_option("condense") is None and r.family_option("condense", {}) == {}
    assert "condense" not in r.to_dict()  # an explicit null is unset, as before
    assert hash(r) == hash(Recipe())  # family options never entered the hash


def test_unknown_recipe_keys_list_the_family_owned_ones():
    with pytest.raises(UsageError) as exc:
        Recipe.from_dict({"epoch": 1})
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith("unknown recipe key recipe.epoch; valid: ")
    valid = msg.split("valid: ")[1].split(", ")
    assert valid == sorted(valid) and {"condense", "dyrep", "epochs", "zero_init_residual"} <= set(valid)
    assert "family_options" not in valid
    with pytest.raises(UsageError, match="unknown recipe key recipe.nope"):
        Recipe(family_options={"nope": 1})


def test_family_recipe_keys_never_shadow_core_fields():
    core = set(Recipe().to_dict())
    owned = registry.recipe_keys()
    assert {"dyrep": "dyrep", "condense": "condensenetv2"}.items() <= owned.items()
    assert not core & set(owned)


def test_a_new_family_owns_a_recipe_key_without_touching_the_core(monkeypatch):
    seen = []

    class Hook(TrainHook):
        pass

    def validate(recipe):
        value = recipe.family_option("warmth")
        if value is not None and not isinstance(value, int):
            raise UsageError(f"recipe.warmth must be an integer, got {value!r}")

    def hooks(spec, recipe, model, ctx):
        seen.append(recipe.family_option("warmth"))
        return [Hook()]

    for table in ("_FAMILIES", "_RECIPE_OWNER"):
        monkeypatch.setattr(registry, table, dict(getattr(registry, table)))
    register_family(Family(name="warm_recipe", kind="recipe", keys=(), complexity=None, build=None,
                           recipe_keys=("warmth",), validate_recipe=validate, train_hooks=hooks))
    r = Recipe.from_dict({"epochs": 1, "warmth": 3})
    assert r.to_dict()["warmth"] == 3 and Recipe().to_dict().keys() == r.to_dict().keys() - {"warmth"}
    with pytest.raises(UsageError, match="recipe.warmth must be an integer"):
        Recipe.from_dict({"warmth": "hot"})
    from designspace import ModelSpec, StageSpec

    spec = ModelSpec((StageSpec(1, 8, 1, "res_basic"),), stem_width=8)
    assert [type(h) for h in registry.make_train_hooks(spec, r, None, None)] == [Hook] and seen == [3]
    with pytest.raises(ValueError, match="already owned"):
        register_family(Family(name="other", kind="recipe", keys=(), complexity=None, build=None,
                               recipe_keys=("warmth",)))


CORE = ["spec.py", "complexity.py", "train", "sweep", "store", "models", "commands"]
FAMILY_WORDS = re.compile(r"(dyrep|condense|condensenet\w*|csp|elan|osa|prn|stopgrad|ode|rep)(_\w+)?", re.I)


def test_the_core_names_no_family():
    """No identifier or key string of the core is a family's name (prose in comments and help may
    name one as an example)."""
    import ast
    import io
    import tokenize

    root = Path(__file__).resolve().parent.parent / "designspace"
    hits = []
    for entry in CORE:
        for path in sorted((root / entry).rglob("*.py")) if (root / entry).is_dir() else [root / entry]:
            for tok in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
                text = tok.string
                if tok.type == tokenize.STRING:
                    try:
                        text = ast.literal_eval(text)
                    except ValueError:  # an f-string
                        continue
                named = tok.type in (tokenize.NAME, tokenize.STRING) and isinstance(text, str)
                if named and FAMILY_WORDS.fullmatch(text):
                    hits.append(f"{path.relative_to(root)}:{tok.start[0]}: {tok.line.strip()}")
    assert not hits, "\n".join(hits)


def test_recipe_json_is_plain_data():
    r = Recipe.from_dict({"dyrep": {"branches": (0, 1)}})
    assert json.loads(json.dumps(r.to_dict()))["dyrep"] == {"branches": [0, 1]}
