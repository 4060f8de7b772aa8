"""DBB blocks train on CPU in contiguous memory format: oneDNN's channels_last backward corrupts the heap
for them in torch 2.13 CPU builds (the process aborts: 'double free or corruption')."""
import subprocess
import sys

from designspace.registry import cpu_channels_last
from designspace.spaces import get_space
from designspace.train import Recipe

SAMPLE = dict(seed=0, flops="3M:8M", regime="fashion-mnist")


def test_families_with_dbb_blocks_opt_out_of_channels_last_on_cpu():
    plain = get_space("RegNetX").sample(1, **SAMPLE)[0]
    dbb = get_space("RegNetX+rep_dbb").sample(1, **SAMPLE)[0]
    assert cpu_channels_last(plain, Recipe()) is True
    assert cpu_channels_last(dbb, Recipe()) is False
    assert cpu_channels_last(plain, Recipe.from_dict({"dyrep": {"metric": "synflow"}})) is False


TRAIN_A_DBB_MODEL = """
from designspace.data import synthetic
from designspace.spaces import get_space
from designspace.train import train
spec = [s for s in get_space("RegNetX+rep_dbb").sample(5, seed=0, flops="3M:8M", regime="fashion-mnist")
        if s.id == "cd126bc8ce8c9d46"][0]  # grouped convs; aborted the process at its first backward
m = train(spec, {"epochs": 1, "batch_size": 128, "train_size": 256, "test_size": 64},
          synthetic(train_size=256, test_size=64), regime="fashion-mnist", threads=1)
print(m["status"])
"""


def test_a_grouped_dbb_regnet_trains_on_cpu_without_crashing():
    run = subprocess.run([sys.executable, "-c", TRAIN_A_DBB_MODEL], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == "done"
