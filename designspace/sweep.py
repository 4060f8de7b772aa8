"""Sweeps: sample the configured spaces, train every model as a Ray task, store results as they land.

    name: paper_fashion_mnist          # required
    store: results/NAME/results.db     # default
    spaces: [AnyNetXA, AnyNetXE, RegNetX]
    models_per_space: 100
    repeats: 1                         # training runs per model, with seeds seed .. seed + repeats - 1
    seed: 0                            # sampling seed (and first training seed)
    regime: fashion-mnist              # default: the dataset's
    flops: 3M:8M                       # default: the regime's band
    dataset: {name: fashion-mnist, dir: null}   # synthetic also takes train_size, test_size, ...
    recipe: {epochs: 1, lr: 0.05, batch_size: 128, train_size: 5000, test_size: 2000, ...}
    resources: {cpus: 1, gpus: 0}      # per trial; fractional gpus pack several trials on one GPU
    max_retries: 1                     # Ray retries of a trial whose worker process died

Resuming is the default: trial ids already in the store (any status) are skipped, so rerunning a
killed sweep ends with exactly the planned rows. A trial that raises is stored as `failed` with its
message; a trial whose loss becomes NaN/inf is stored as `diverged`.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from .errors import UsageError

TOP_KEYS = ("name", "store", "spaces", "models_per_space", "repeats", "seed", "regime", "flops", "dataset",
            "recipe", "resources", "max_retries")
RESOURCE_KEYS = ("cpus", "gpus")
DATASET_KEYS = ("name", "dir")
SYNTHETIC_KEYS = ("train_size", "test_size", "image_size", "channels", "num_classes", "seed", "noise")


@dataclass
class SweepConfig:
    name: str
    spaces: list[str]
    models_per_space: int
    store: str
    seed: int = 0
    repeats: int = 1  # each model is trained with seeds seed, seed + 1, ..., seed + repeats - 1
    regime: str = "fashion-mnist"
    flops: str | None = None
    dataset: dict = field(default_factory=lambda: {"name": "fashion-mnist"})
    recipe: Any = None  # designspace.train.Recipe
    cpus: float = 1.0
    gpus: float = 0.0
    max_retries: int = 1
    source: dict = field(default_factory=dict)  # the config as given, stored with the sweep

    def trial_context(self) -> dict:
        """Everything besides spec and seed that defines a trial (hashed into its id)."""
        return {"recipe": self.recipe.to_dict(), "dataset": self.dataset.get("name"), "regime": self.regime,
                "sweep": self.name}


def _int(value, key, minimum=0):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UsageError(f"config key {key} must be an integer >= {minimum}, got {value!r}")
    return value


def _number(value, key, minimum=0.0):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise UsageError(f"config key {key} must be a number >= {minimum:g}, got {value!r}")
    return float(value)


def parse_config(raw: Any, path: str = "config") -> SweepConfig:
    """Validate a config mapping; every problem is a one-line UsageError naming the key."""
    from .data import DATASET_REGIME, DATASETS
    from .regimes import get_regime
    from .spaces import get_space, parse_flops
    from .train import Recipe

    if not isinstance(raw, dict):
        raise UsageError(f"{path}: a sweep config must be a YAML mapping")
    for key in raw:
        if key not in TOP_KEYS:
            raise UsageError(f"{path}: unknown config key {key!r}; valid: {', '.join(TOP_KEYS)}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or "/" in name:
        raise UsageError(f"{path}: config key name must be a non-empty string without '/', got {name!r}")
    spaces = raw.get("spaces")
    if isinstance(spaces, str):
        spaces = [spaces]
    if not isinstance(spaces, list) or not spaces or not all(isinstance(s, str) for s in spaces):
        raise UsageError(f"{path}: config key spaces must be a list of space names, got {spaces!r}")
    for s in spaces:
        try:
            get_space(s)
        except UsageError as exc:
            raise UsageError(f"{path}: config key spaces: {exc}") from None
    if len(set(spaces)) != len(spaces):
        raise UsageError(f"{path}: config key spaces lists a space twice")
    models = _int(raw.get("models_per_space"), "models_per_space", 1)
    seed = _int(raw.get("seed", 0), "seed")
    repeats = _int(raw.get("repeats", 1), "repeats", 1)

    dataset = raw.get("dataset", "fashion-mnist")
    if isinstance(dataset, str):
        dataset = {"name": dataset}
    if not isinstance(dataset, dict) or not isinstance(dataset.get("name"), str):
        raise UsageError(f"{path}: config key dataset must be a name or a mapping with name, got {dataset!r}")
    if dataset["name"] not in DATASETS:
        raise UsageError(f"{path}: config key dataset.name: unknown dataset {dataset['name']!r}; "
                         f"valid: {', '.join(DATASETS)}")
    allowed = DATASET_KEYS + (SYNTHETIC_KEYS if dataset["name"] == "synthetic" else ()) + \
        (("image_size", "channels") if dataset["name"] == "imagefolder" else ())
    for key in dataset:
        if key not in allowed:
            raise UsageError(f"{path}: unknown config key dataset.{key}; valid: {', '.join(allowed)}")
    if dataset.get("dir") is not None and not isinstance(dataset["dir"], str):
        raise UsageError(f"{path}: config key dataset.dir must be a path, got {dataset['dir']!r}")

    regime = raw.get("regime", DATASET_REGIME[dataset["name"]])
    try:
        regime = get_regime(regime).name
    except UsageError as exc:
        raise UsageError(f"{path}: config key regime: {exc}") from None
    flops = raw.get("flops")
    if flops is not None:
        try:
            parse_flops(str(flops))
        except UsageError as exc:
            raise UsageError(f"{path}: config key flops: {exc}") from None
        flops = str(flops)

    recipe_raw = raw.get("recipe") or {}
    if not isinstance(recipe_raw, dict):
        raise UsageError(f"{path}: config key recipe must be a mapping, got {recipe_raw!r}")
    try:
        recipe = Recipe.from_dict(recipe_raw)
    except UsageError as exc:
        raise UsageError(f"{path}: config key {exc}") from None
    except TypeError as exc:
        raise UsageError(f"{path}: config key recipe: {exc}") from None

    resources = raw.get("resources") or {}
    if not isinstance(resources, dict):
        raise UsageError(f"{path}: config key resources must be a mapping, got {resources!r}")
    for key in resources:
        if key not in RESOURCE_KEYS:
            raise UsageError(f"{path}: unknown config key resources.{key}; valid: {', '.join(RESOURCE_KEYS)}")
    cpus = _number(resources.get("cpus", 1), "resources.cpus")
    gpus = _number(resources.get("gpus", 0), "resources.gpus")
    if cpus <= 0 and gpus <= 0:
        raise UsageError(f"{path}: config key resources needs cpus > 0 or gpus > 0")
    if gpus > 1 and not float(gpus).is_integer():
        raise UsageError(f"{path}: config key resources.gpus above 1 must be a whole number, got {gpus:g}")
    max_retries = _int(raw.get("max_retries", 1), "max_retries")
    store = raw.get("store") or os.path.join("results", name, "results.db")
    if not isinstance(store, str):
        raise UsageError(f"{path}: config key store must be a path, got {store!r}")
    return SweepConfig(name=name, spaces=spaces, models_per_space=models, store=store, seed=seed, repeats=repeats,
                       regime=regime, flops=flops, dataset=dict(dataset), recipe=recipe, cpus=cpus, gpus=gpus,
                       max_retries=max_retries, source=dict(raw))


def load_config(path: str) -> SweepConfig:
    import yaml

    try:
        with open(path) as fh:
            raw = yaml.safe_load(fh)
    except FileNotFoundError:
        raise UsageError(f"sweep config {path} not found") from None
    except OSError as exc:
        raise UsageError(f"cannot read sweep config {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"{path} is not valid YAML: {first}") from None
    return parse_config(raw, path)


# --- planning ---
def plan_trials(cfg: SweepConfig) -> list[dict]:
    """Every trial of the sweep as a store row without results: sampling is deterministic in the
    seed, so a rerun plans exactly the same trials with the same ids."""
    from .spaces import get_space
    from .store import trial_id
    from .table import spec_rows

    context = cfg.trial_context()
    trials = []
    for name in cfg.spaces:
        space = get_space(name)
        draw, cx = space.sample_arrays(cfg.models_per_space, seed=cfg.seed, flops=cfg.flops, regime=cfg.regime)
        specs = space.specs_from(draw)
        for spec, row in zip(specs, spec_rows(specs, cx, cfg.regime)):
            cx_train = next((row[k] for k in ("cx_train_flops", "cx_train") if k in row), None)
            for seed in range(cfg.seed, cfg.seed + cfg.repeats):  # training seeds; sampling used cfg.seed
                trials.append({
                    "trial_id": trial_id(spec.id, {**context, "space": name}, seed),
                    "sweep": cfg.name, "space": name, "spec_id": spec.id, "spec": spec.to_json(sort_keys=True),
                    "regime": cfg.regime, "dataset": cfg.dataset["name"], "recipe": cfg.recipe.to_dict(),
                    "seed": seed, "flops": row["flops"], "params": row["params"], "acts": row["acts"],
                    "cx_train": cx_train,
                })
    return trials


def load_sweep_data(cfg: SweepConfig, data_dir: str | None = None):
    """The dataset in memory, cut to the recipe's subset sizes once (not per trial)."""
    from .data import load_dataset

    options = {k: v for k, v in cfg.dataset.items() if k not in DATASET_KEYS}
    data = load_dataset(cfg.dataset["name"], data_dir or cfg.dataset.get("dir"), **options)
    return data.subset(cfg.recipe.train_size, cfg.recipe.test_size)


# --- the Ray task ---
def run_trial(trial: dict, recipe: dict, data, threads: int) -> dict:
    """Train one planned trial; never raises for a trial's own error (that is a `failed` row)."""
    import traceback

    from .spec import ModelSpec
    from .train import train

    row = dict(trial, started_at=time.time())
    try:
        spec = ModelSpec.from_json(trial["spec"])
        metrics = train(spec, recipe, data, regime=trial["regime"], seed=trial["seed"], threads=threads)
    except Exception as exc:  # a trial's bug or bad model must not stop the sweep: store it
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" ({os.path.basename(tb[-1].filename)}:{tb[-1].lineno})" if tb else ""
        row.update(status="failed", message=f"{type(exc).__name__}: {exc}{where}"[:2000])
        return row
    extra = {k: metrics[k] for k in ("steps", "train_size", "test_size") if k in metrics}
    extra.update(metrics.get("extra") or {})  # e.g. DyRep's per-epoch cx_train
    row.update({k: metrics.get(k) for k in ("status", "error", "train_loss", "epochs", "seconds", "images_per_s",
                                            "device", "message")}, extra=extra)
    if metrics.get("cx_train") is not None:  # training cost measured by the trial (DyRep grows and prunes)
        row["cx_train"] = metrics["cx_train"]
    return row


def failed_row(trial: dict, exc: BaseException) -> dict:
    """A trial Ray could not run (its worker died max_retries + 1 times, or the task was lost)."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return dict(trial, status="failed", message=f"{type(exc).__name__}: {message}"[:2000])


# --- the driver ---
def check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast (one line) when HOST:PORT or ray://HOST:PORT does not answer: ray.init would retry
    for minutes. 'auto' is left to Ray, which finds a cluster started on this machine."""
    import socket

    target = address.removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    if address == "auto" or not sep:
        return
    if not port.isdigit():
        raise UsageError(f"--address {address!r} is not auto, HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise UsageError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}") from None


def _start_ray(address: str | None, quiet: bool = True):
    import ray

    package = os.path.dirname(os.path.abspath(__file__))
    if address:
        check_reachable(address)
        # Ship this designspace package to the cluster's workers, so that they run the same code
        # as the driver whether or not (or in whichever version) it is installed there.
        runtime_env = {"py_modules": [package], "excludes": ["__pycache__", "*.pyc"]}
        try:
            ray.init(address=address, runtime_env=runtime_env, log_to_driver=not quiet, logging_level="ERROR")
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise UsageError(f"cannot join the Ray cluster at {address}: {str(exc).splitlines()[0]}") from None
        return True
    # A private local cluster: no token file, no telemetry, no dashboard (it costs 2 s at start).
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # Workers import designspace from where this process found it, installed or not.
    root = os.path.dirname(package)
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([root, *paths])
    # address="local": always a new private cluster, even where `ray start` left one running on this machine.
    ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=not quiet,
             logging_level="ERROR")
    return True


def _slots(cfg: SweepConfig) -> int:
    """How many trials the cluster can run at once (to tell running from queued on the bar)."""
    import ray

    res = ray.cluster_resources()
    slots = []
    if cfg.cpus > 0:
        slots.append(int(res.get("CPU", 0) // cfg.cpus))
    if cfg.gpus > 0:
        slots.append(int(round(res.get("GPU", 0) / cfg.gpus, 6)))
    return max(min(slots), 0) if slots else 0


def run_sweep(cfg: SweepConfig, address: str | None = None, data_dir: str | None = None,
              progress: bool = True, out=sys.stderr) -> dict:
    """Run (or resume) a sweep; returns counts {planned, skipped, done, failed, diverged}."""
    from . import store

    trials = plan_trials(cfg)
    ids = [t["trial_id"] for t in trials]
    if len(set(ids)) != len(ids):  # two spaces sampled the same architecture is fine; the same id is not
        raise UsageError(f"sweep {cfg.name} planned duplicate trial ids; check spaces and seed")
    stored: set = set()
    if os.path.exists(cfg.store):
        con = store.connect(cfg.store)
        stored = store.done_ids(con, cfg.name)
        con.close()
    todo = [t for t in trials if t["trial_id"] not in stored]
    counts = {"planned": len(trials), "skipped": len(trials) - len(todo), "done": 0, "failed": 0, "diverged": 0}
    # Load the data before touching the store: a missing dataset fails fast and creates nothing.
    data = load_sweep_data(cfg, data_dir) if todo else None
    con = store.connect(cfg.store)
    try:
        store.record_sweep(con, cfg.name, cfg.source, len(trials))
        if not todo:
            print(f"sweep {cfg.name}: all {len(trials)} trials already in {cfg.store}", file=out)
            return counts
        _drive(cfg, todo, data, con, counts, address, progress, out)
        return counts
    finally:
        con.close()


def _drive(cfg, todo, data, con, counts, address, progress, out):
    import ray
    from tqdm import tqdm

    from . import store

    started_here = not ray.is_initialized()
    if started_here:
        _start_ray(address)
    pending: dict = {}
    try:
        data_ref = ray.put(data)  # once, shared by every task through the object store
        threads = max(int(cfg.cpus), 1)
        task = ray.remote(run_trial).options(num_cpus=cfg.cpus, num_gpus=cfg.gpus, max_retries=cfg.max_retries,
                                             retry_exceptions=False)
        recipe = cfg.recipe.to_dict()
        pending = {task.remote(t, recipe, data_ref, threads): t for t in todo}
        slots = _slots(cfg)
        bar = tqdm(total=len(todo), desc=f"sweep {cfg.name}", unit="trial", file=out, disable=not progress,
                   dynamic_ncols=True, smoothing=0.1)

        def postfix():
            bar.set_postfix_str(f"done={counts['done']} failed={counts['failed']} diverged={counts['diverged']} "
                                f"running={min(len(pending), slots)} resumed={counts['skipped']}", refresh=False)

        live = getattr(out, "isatty", lambda: False)()
        postfix()
        bar.refresh()
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            if ready:  # take whatever else finished too, and write them in one transaction
                ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=0)
            rows = []
            for ref in ready:
                trial = pending.pop(ref)
                try:
                    row = ray.get(ref)
                except (ray.exceptions.RayError, OSError) as exc:  # worker died beyond retries, task lost
                    row = failed_row(trial, exc)
                rows.append(row)
                counts[row["status"]] += 1
            if rows:
                store.write_trials(con, rows)
            postfix()
            if rows:
                bar.update(len(rows))
            elif live:  # tick the elapsed time on a terminal; a log file gets a line per result only
                bar.refresh()
        bar.close()
    except BaseException:
        for ref in pending:  # interrupted: stop queued work; stored rows stay as they are
            try:
                ray.cancel(ref, force=True)
            except Exception:  # already finished or lost: nothing to stop
                pass
        raise
    finally:
        if started_here:
            ray.shutdown()
    print(f"sweep {cfg.name}: {counts['done']} done, {counts['failed']} failed, {counts['diverged']} diverged, "
          f"{counts['skipped']} already stored -> {cfg.store}", file=out)
