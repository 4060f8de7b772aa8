"""The cluster recipes in cluster/: each parses (YAML, Ray's own launcher schema, bash -n) and the
designspace command it runs is one the CLI accepts, with a config file that exists and loads."""
import json
import os
import re
import shlex
import subprocess

import pytest
import yaml

from designspace.cli import make_parser
from designspace.sweep import load_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLUSTER = os.path.join(ROOT, "cluster")


def check_command(command: str, variables: dict | None = None):
    """A `designspace sweep ...` command line: parsed as the CLI would, its config loaded."""
    for name, value in (variables or {}).items():
        command = command.replace(f'"${name}"', value).replace(f"${name}", value)
    argv = shlex.split(command)
    assert argv[0] == "designspace" and argv[1] == "sweep", argv
    args = make_parser().parse_args(argv[1:])
    cfg = load_config(os.path.join(ROOT, args.config))
    assert cfg.name and cfg.spaces
    return args


def test_ray_cluster_launcher_yaml():
    path = os.path.join(CLUSTER, "ray-cluster.yaml")
    text = open(path).read()
    config = yaml.safe_load(text)
    ray = pytest.importorskip("ray")
    import jsonschema

    with open(os.path.join(os.path.dirname(ray.__file__), "autoscaler", "ray-schema.json")) as fh:
        jsonschema.validate(config, json.load(fh))  # Ray's own schema for `ray up`
    assert any("ray start --head" in c for c in config["head_start_ray_commands"])
    assert any("ray start --address" in c for c in config["worker_start_ray_commands"])
    (run,) = re.findall(r"^# run: (.+)$", text, re.M)
    assert check_command(run).address == "auto"


def test_kuberay_rayjob_manifest():
    job = yaml.safe_load(open(os.path.join(CLUSTER, "rayjob.yaml")))
    assert job["apiVersion"] == "ray.io/v1" and job["kind"] == "RayJob"
    spec = job["spec"]
    assert spec["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]["containers"]
    assert spec["rayClusterSpec"]["workerGroupSpecs"][0]["replicas"] >= 1
    args = check_command(spec["entrypoint"])
    assert args.address == "auto" and args.store.startswith("/results/")  # on the persistent volume


def test_slurm_batch_script():
    path = os.path.join(CLUSTER, "slurm.sbatch")
    subprocess.run(["bash", "-n", path], check=True)
    text = open(path).read()
    assert "#SBATCH --nodes=" in text and "ray start --head" in text and "ray start --address" in text
    assert "ray stop" in text and "trap cleanup EXIT" in text  # the cluster goes down with the job
    default = re.search(r"^CONFIG=\$\{1:-(\S+)\}$", text, re.M).group(1)
    (run,) = [line.strip() for line in text.splitlines() if line.strip().startswith("designspace sweep")]
    args = check_command(run, {"CONFIG": default, "address": "10.0.0.1:6379"})
    assert args.address == "10.0.0.1:6379"
