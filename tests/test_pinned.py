"""Pinned outputs: what a restructure of the sweep, store, spaces and validation must not change.

tests/data/pinned.json holds, computed before the restructure: the spec ids of the first models of a
few spaces (built-in, RegNet, a modifier, an inline refinement, a defined file), the planned trial ids
of every sweep config in experiments/ and every sweep of every claims suite in experiments/paper/
(hashed per config, on fixed stand-in dataset files so that the ids do not depend on the machine),
the store schema (sqlite_master), a few CLI outputs, seeded forwards (the logits of freshly built models
of a few spaces and families on a fixed input) and seeded training runs (per-epoch loss, test error and
lr of short runs on the synthetic dataset, with augmentation, warm-up, a partial last epoch and the
families' training hooks), on one torch thread. Regenerate (only on purpose, when a change is
meant to alter them) with `python tests/test_pinned.py`.
"""
from __future__ import annotations

import contextlib
import glob
import gzip
import hashlib
import io
import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PINNED = os.path.join(ROOT, "tests", "data", "pinned.json")
SAMPLED = {  # space -> (n, flops band, regime)
    "AnyNetXA": (6, "360M:400M", "imagenet"),
    "AnyNetXE": (6, "3M:8M", "fashion-mnist"),
    "RegNetX": (6, "360M:400M", "imagenet"),
    "AnyNetXE+csp": (4, "3M:8M", "fashion-mnist"),
    "AnyNetXA[b=1,g>=8,d<=20]": (4, None, "fashion-mnist"),
}
# Data a user keeps (JSON lines, a definition); the human-facing listings may be reworded freely.
CLI = (["sample", "--space", "RegNetX", "-n", "3", "--seed", "1"], ["spaces", "--show", "AnyNetXE"],
       ["sample", "--space", "AnyNetXE+csp", "-n", "2", "--regime", "fashion-mnist", "--flops", "3M:8M"])


def stand_in_data(root: str) -> str:
    """Fixed little files where fashion-mnist and CIFAR-10 are looked for: trial ids hash the
    dataset's files, and these make them the same on every machine."""
    fm = os.path.join(root, "fashion-mnist")
    os.makedirs(fm, exist_ok=True)
    for p in ("train", "t10k"):
        for k in ("images-idx3", "labels-idx1"):
            with open(os.path.join(fm, f"{p}-{k}-ubyte.gz"), "wb") as fh:
                fh.write(gzip.compress(f"{p}{k}".encode(), mtime=0))
    return root


def sample_ids() -> dict:
    from designspace.spaces import get_space

    out = {}
    for name, (n, flops, regime) in SAMPLED.items():
        specs = get_space(name).sample(n, seed=0, flops=flops, regime=regime)
        out[name] = [s.id for s in specs]
    return out


def _configs():
    from designspace.claims.suite import load_suite
    from designspace.sweep import load_config

    for path in sorted(glob.glob(os.path.join(ROOT, "experiments", "*.yaml"))):
        yield os.path.relpath(path, ROOT), load_config(path)
    for path in sorted(glob.glob(os.path.join(ROOT, "experiments", "paper", "*.yaml"))):
        if os.path.basename(path).startswith("calibration"):
            continue
        suite = load_suite(path)
        for key in suite.sweeps:
            yield f"{os.path.relpath(path, ROOT)}:{key}", suite.sweep_config(key, "/nonexistent-stores")


def _data_dir(cfg, tmp):
    if cfg.dataset["name"] == "fashion-mnist":
        return os.path.join(tmp, "fashion-mnist")
    if cfg.dataset["name"] in ("cifar10", "cifar", "cifar-10"):
        folder = os.path.join(tmp, "cifar10")
        os.makedirs(folder, exist_ok=True)
        for f in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            with open(os.path.join(folder, f), "wb") as fh:
                fh.write(f.encode())
        return folder
    return None


def planned_ids(tmp: str) -> dict:
    from designspace.sweep import plan_trials

    stand_in_data(tmp)
    out = {}
    for key, cfg in _configs():
        ids = [t["trial_id"] for t in plan_trials(cfg, _data_dir(cfg, tmp))]
        out[key] = {"n": len(ids), "sha1": hashlib.sha1("\n".join(ids).encode()).hexdigest(), "first": ids[:2]}
    return out


def store_schema(tmp: str) -> list:
    from designspace import store

    con = store.connect(os.path.join(tmp, "pin.db"))
    try:
        return [list(r) for r in con.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name")]
    finally:
        con.close()


def _forward_specs():
    from designspace.families.condensenet import condensenet_spec
    from designspace.spaces import get_space

    band = dict(seed=0, flops="3M:8M", regime="fashion-mnist")
    return {"AnyNetXA": get_space("AnyNetXA").sample(1, seed=0, flops="0.2M:1M", regime="fashion-mnist")[0],
            "RegNetX": get_space("RegNetX").sample(1, **band)[0],
            "RegNetX+rep_dbb": get_space("RegNetX+rep_dbb").sample(1, **band)[0],
            "CondenseNetV2": condensenet_spec(blocks=[1, 1], growth=[8, 8], groups=2, condense=4, sfr=4, stem=8,
                                              hswish_from=1, se_from=1)}


def _rounded(values) -> list:
    """Six significant digits: far past any change a restructure could make, within float32's."""
    return [float(f"{float(v):.6g}") for v in values]


def seeded_forwards() -> dict:
    """Logits (rounded) of each model built under torch.manual_seed(0), in eval mode, on two seeded
    fashion-mnist-shaped images."""
    import torch

    from designspace.models import build
    from designspace.regimes import get_regime

    torch.set_num_threads(1)
    regime = get_regime("fashion-mnist")
    x = torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(7))
    out = {}
    for name, spec in _forward_specs().items():
        torch.manual_seed(0)
        model = build(spec, regime).eval()
        with torch.no_grad():
            out[name] = {"spec_id": spec.id, "logits": _rounded(model(x).flatten())}
    return out


TRAINED = {  # name -> (spec from _forward_specs or the DyRep toy, recipe, synthetic sizes, seed)
    "AnyNetXA augment+warmup, 2.5 epochs": ("AnyNetXA", {"epochs": 2.5, "batch_size": 32, "lr": 0.4, "augment": True,
                                                          "warmup_epochs": 0.5, "label_smoothing": 0.1},
                                             (256, 128), 3),
    "RegNetX defaults, 2 epochs": ("RegNetX", {"epochs": 2, "batch_size": 32}, (256, 128), 0),
    "DyRep toy": ("dyrep-toy", {"epochs": 2, "batch_size": 16, "lr": 0.2, "augment": True,
                                "dyrep": {"interval": 1, "stop": 2, "recal_batches": 2}}, (128, 64), 0),
    "CondenseNetV2 condensation": ("CondenseNetV2", {"epochs": 1, "batch_size": 16, "lr": 0.2,
                                                     "condense": {"lasso": 1e-5}}, (64, 32), 0),
}


def seeded_training() -> dict:
    """Short seeded train() runs on the synthetic dataset, one torch thread: status, steps, the final
    error and loss and every epoch's loss, error and lr (rounded)."""
    import torch

    from designspace.data import synthetic
    from designspace.spec import ModelSpec, StageSpec
    from designspace.train import train

    torch.set_num_threads(1)
    specs = _forward_specs()
    specs["dyrep-toy"] = ModelSpec((StageSpec(1, 8, 1, "res_basic"), StageSpec(1, 16, 2, "res_basic")), stem_width=8)
    out = {}
    for name, (spec_name, recipe, (n_train, n_test), seed) in TRAINED.items():
        m = train(specs[spec_name], recipe, synthetic(n_train, n_test, seed=0, noise=0.2), seed=seed, threads=1)
        out[name] = {"status": m["status"], "steps": m["steps"], "error": _rounded([m["error"]])[0],
                     "train_loss": _rounded([m["train_loss"]])[0],
                     "per_epoch": [_rounded((e["epoch"], e["train_loss"], e["test_error"], e["lr"]))
                                   for e in m["per_epoch"]]}
    return out


def cli_outputs() -> dict:
    from designspace.cli import main

    out = {}
    for argv in CLI:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            assert main(list(argv)) == 0
        out[" ".join(argv)] = buf.getvalue()
    return out


@pytest.fixture(scope="module")
def pinned():
    with open(PINNED) as fh:
        return json.load(fh)


def test_samples_are_pinned(pinned):
    assert sample_ids() == pinned["samples"]


def test_planned_trial_ids_are_pinned(pinned, tmp_path):
    now = planned_ids(str(tmp_path))
    assert sorted(now) == sorted(pinned["plans"])  # every config and suite sweep still plans
    for key in now:
        assert now[key] == pinned["plans"][key], key


def test_store_schema_is_pinned(pinned, tmp_path):
    assert store_schema(str(tmp_path)) == pinned["store_schema"]


def test_cli_outputs_are_pinned(pinned):
    assert cli_outputs() == pinned["cli"]


# Float results are pinned to what a restructure could change, not to one CPU's rounding: float32
# kernels sum in an order that depends on the instruction set (AVX2 against AVX-512 moved logits by up to
# 4e-6 of their scale and a 2.5-epoch training loss by 5e-4, which flipped one of 128 test images), so
# logits are compared within 1e-4 of the largest, losses within 0.2%, learning rates to 1e-9 and test
# errors within one test image. A change of architecture, initialisation or schedule moves them far more.
LOGIT_TOL, LOSS_TOL, LR_TOL = 1e-4, 2e-3, 1e-9


def test_seeded_forwards_are_pinned(pinned):
    now = seeded_forwards()
    assert sorted(now) == sorted(pinned["forwards"])
    for name, got in now.items():
        want = pinned["forwards"][name]
        assert got["spec_id"] == want["spec_id"] and len(got["logits"]) == len(want["logits"]), name
        scale = max(abs(v) for v in want["logits"])
        assert got["logits"] == pytest.approx(want["logits"], rel=0, abs=LOGIT_TOL * scale), name


def test_seeded_training_is_pinned(pinned):
    now = seeded_training()
    assert sorted(now) == sorted(pinned["training"])
    for name, got in now.items():
        want = pinned["training"][name]
        one_image = 100.0 / TRAINED[name][2][1]  # a test error's step, in points
        assert (got["status"], got["steps"], len(got["per_epoch"])) == \
            (want["status"], want["steps"], len(want["per_epoch"])), name
        assert got["train_loss"] == pytest.approx(want["train_loss"], rel=LOSS_TOL), name
        assert abs(got["error"] - want["error"]) <= one_image + 1e-9, name
        for g, w in zip(got["per_epoch"], want["per_epoch"]):
            assert g[0] == w[0] and g[1] == pytest.approx(w[1], rel=LOSS_TOL), (name, g, w)
            assert abs(g[2] - w[2]) <= one_image + 1e-9 and g[3] == pytest.approx(w[3], rel=LR_TOL), (name, g, w)


if __name__ == "__main__":
    import tempfile

    sys.path.insert(0, ROOT)
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        pins = {"samples": sample_ids(), "plans": planned_ids(a), "store_schema": store_schema(b),
                "cli": cli_outputs(), "forwards": seeded_forwards(), "training": seeded_training()}
    with open(PINNED, "w") as fh:
        json.dump(pins, fh, indent=1, sort_keys=True)
        fh.write("\n")
    print(f"wrote {PINNED}: {len(pins['plans'])} plans")
