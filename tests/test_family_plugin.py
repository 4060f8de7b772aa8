"""A family from outside designspace/: a tiny "wide-shortcut" residual variant in a temporary
distribution (a module plus its *.dist-info with a `designspace.families` entry point) is found,
sampled, described and trained through the CLI in a subprocess, without touching designspace/."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PLUGIN = textwrap.dedent('''
    """wide_shortcut: every projection shortcut of a residual network is a k x k conv (instead of 1x1).

    Model option {"wide_shortcut": {"k": 3}}; a wrapper family: its complexity is the spec's without
    the option plus (k^2 - 1) times each projection conv's weights (at the stage's output size)."""
    import dataclasses

    import numpy as np

    from designspace.complexity import SpecArrays, complexity, stem_output_size
    from designspace.errors import UsageError
    from designspace.registry import Family, register_family
    from designspace.spaces import Draw, WrappedSpace, register_modifier
    from designspace.spec import FrozenDict

    KEY = "wide_shortcut"


    def kernel(spec):
        opt = spec.family.get(KEY)
        k = opt.get("k", 3) if hasattr(opt, "get") else None
        if not isinstance(k, int) or isinstance(k, bool) or k < 1 or k % 2 == 0 or k > 7:
            raise UsageError(f"wide_shortcut.k must be an odd integer in 1..7, got {k!r}")
        return k


    def base(spec):
        return dataclasses.replace(spec, family=FrozenDict({x: v for x, v in spec.family.items() if x != KEY}))


    def wide_complexity(specs, regime):
        out = complexity([base(s) for s in specs], regime)
        for i, spec in enumerate(specs):
            extra = kernel(spec) ** 2 - 1
            arr = SpecArrays.from_specs([spec])
            h, w_in = int(stem_output_size(arr, regime)[0]), spec.stem_width
            for st in spec.stages:
                if st.depth == 0:
                    continue
                h = (h - 1) // st.stride + 1
                if st.block != "vanilla" and (w_in != st.width or st.stride != 1):
                    out["flops"][i] += extra * w_in * st.width * h * h
                    out["params"][i] += extra * w_in * st.width
                w_in = st.width
        return out


    def wide_build(spec, regime):
        import torch.nn as nn  # lazily: sampling never imports torch

        from designspace.models import build

        k = kernel(spec)
        model = build(base(spec), regime)
        for block in model.modules():
            proj = getattr(block, "proj", None)
            if proj is not None and isinstance(proj[0], nn.Conv2d):
                c = proj[0]
                proj[0] = nn.Conv2d(c.in_channels, c.out_channels, k, stride=c.stride, padding=k // 2, bias=False)
        return model


    register_family(Family(name=KEY, kind="wrapper", keys=(KEY,), complexity=wide_complexity, build=wide_build,
                           description="projection shortcuts as k x k convs"))


    class WideShortcutSpace(WrappedSpace):
        meta_keys = ("k",)  # drawn per model; hidden from the base's specs_from

        def __init__(self, base):
            super().__init__(base, KEY, "; k x k projection shortcuts, k in {3, 5}")

        @property
        def free_params(self):
            return super().free_params + [("k", "shortcut kernel, 3 or 5")]

        def draw(self, rng, m):
            dr = self.base.draw(rng, m)
            return Draw(dr.widths, dr.depths, dr.bottleneck_ratios, dr.group_widths,
                        {**dr.meta, "k": rng.choice([3, 5], m)})

        def with_options(self, spec, i, dr):
            k = int(dr.meta["k"][i])
            return dataclasses.replace(spec, family=FrozenDict({**spec.family.thaw(), KEY: {"k": k}}))

        def measure(self, dr, regime):
            specs = self.specs_from(dr)
            return wide_complexity(specs, regime), np.ones(len(specs), bool)


    register_modifier(KEY, WideShortcutSpace)
''')


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory):
    root = tmp_path_factory.mktemp("plugin")
    (root / "wide_shortcut_family.py").write_text(PLUGIN)
    info = root / "wide_shortcut_family-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: wide-shortcut-family\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[designspace.families]\nwide_shortcut = wide_shortcut_family\n")
    return root


def _cli(plugin_path, *args, cwd):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin_path), str(ROOT)])}
    return subprocess.run([sys.executable, "-m", "designspace", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300)


def test_an_out_of_tree_family_samples_describes_and_trains(plugin_path, tmp_path):
    rows = tmp_path / "rows.jsonl"
    res = _cli(plugin_path, "sample", "--space", "ResNetC4+wide_shortcut", "-n", "2", "--regime", "fashion-mnist",
               "--flops", "1M:8M", "--out", str(rows), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    row = json.loads(rows.read_text().splitlines()[0])
    assert row["spec"]["family"]["wide_shortcut"]["k"] in (3, 5)
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(row["spec"]))
    res = _cli(plugin_path, "describe", str(spec_file), "--regime", "fashion-mnist", "--json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    described = json.loads(res.stdout)
    assert described["flops"] == row["flops"] and described["params"] == row["params"]
    check = textwrap.dedent(f'''
        import json
        from designspace import ModelSpec, build, complexity
        from designspace.models.counting import measure
        spec = ModelSpec.from_dict(json.load(open({str(spec_file)!r})))
        cx = complexity(spec, "fashion-mnist")
        print(json.dumps([measure(build(spec, "fashion-mnist"), (1, 28, 28)), cx]))
    ''')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin_path), str(ROOT)])}
    res = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    counted, cx = json.loads(res.stdout)
    assert counted == {k: cx[k] for k in ("flops", "params", "acts")}  # the plugin's closed form is exact
    res = _cli(plugin_path, "train", str(spec_file), "--data", "synthetic", "--epochs", "1", "--train-size", "64",
               "--test-size", "32", "--batch-size", "32", "--json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout.strip().splitlines()[-1])["status"] == "done"


def test_without_the_plugin_its_option_is_a_one_line_error(tmp_path):
    spec = {"stages": [{"depth": 1, "width": 16, "block": "res_basic"}], "family": {"wide_shortcut": {"k": 3}}}
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-m", "designspace", "describe", str(path)], capture_output=True,
                         text=True, env=env, timeout=300)
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1
    assert "unknown family option(s) wide_shortcut" in res.stderr


def test_sampling_a_plugin_space_does_not_import_torch(plugin_path, tmp_path):
    code = ("import sys; from designspace.spaces import get_space; "
            "get_space('ResNetC4+wide_shortcut').sample(2, seed=0, regime='fashion-mnist', flops=(1e6, 8e6)); "
            "print('torch' in sys.modules)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin_path), str(ROOT)])}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "False"
