"""The GPU code path where no GPU exists: bench_gpu says it needs one (exit 0, nothing measured),
and the trainer's AMP setting is inert on CPU (same numbers with amp on or off)."""
import os
import subprocess
import sys

import pytest
import torch

from designspace.data import synthetic
from designspace.spaces import get_space
from designspace.train import train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present: the bench would measure")
def test_bench_gpu_says_it_needs_a_gpu():
    out = subprocess.run([sys.executable, os.path.join(ROOT, "benches", "bench_gpu.py")], capture_output=True,
                         text=True, timeout=120, env=dict(os.environ, PYTHONPATH=ROOT))
    assert out.returncode == 0, out.stderr[-2000:]
    assert "needs a CUDA GPU" in out.stdout and "nothing was measured" in out.stdout


def test_amp_is_inert_on_cpu():
    spec = get_space("RegNetX").sample(1, seed=0, flops="0.2M:1M", regime="fashion-mnist")[0]
    data = synthetic(train_size=128, test_size=64)
    runs = [train(spec, {"epochs": 1, "batch_size": 64, "amp": amp}, data, seed=0, threads=1, device="cpu")
            for amp in (True, False)]
    assert runs[0]["status"] == "done" and runs[0]["device"].startswith("cpu")
    assert runs[0]["train_loss"] == runs[1]["train_loss"] and runs[0]["error"] == runs[1]["error"]
