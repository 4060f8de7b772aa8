"""Sweeps: sample the configured spaces, train every model as a Ray task, store results as they land.

    name: paper_fashion_mnist          # required; letters, digits, '.', '_', '-'
    store: results/NAME/results.db     # default
    spaces: [AnyNetXA, AnyNetXE, RegNetX]
    models_per_space: 100
    repeats: 1                         # training runs per model, with seeds train_seed .. train_seed + repeats - 1
    seed: 0                            # sampling seed (and first training seed)
    train_seed: 0                      # default: seed; another value retrains the same models with other seeds
    regime: fashion-mnist              # default: the dataset's
    flops: 3M:8M                       # default: the regime's band
    dataset: {name: fashion-mnist, dir: null}   # synthetic also takes train_size, test_size, ...
    recipe: {epochs: 1, lr: 0.05, batch_size: 128, train_size: 5000, test_size: 2000, ...}
    # Settings that do not change results (they may change between runs of the same sweep):
    resources: {cpus: 1, gpus: 0}      # per trial; fractional gpus pack several trials on one GPU
    max_retries: 1                     # reruns of a trial whose worker process or node died
    timeout: null                      # seconds per trial attempt; a trial past it is stored as `timeout`
    checkpoints: false                 # true: save each finished model next to the store (for `deploy`)
    tensorboard: false                 # true: TensorBoard event files per trial (needs the tensorboard package)

The sweep stores its plan (every planned trial id) and its identity (everything that defines the
results: space definitions, sampling, dataset with a fingerprint of its files, regime, recipe) the
first time it runs. Rerunning resumes: finished rows are kept, the rest are trained. A rerun whose
config changed the identity is refused with the change named, unless `new_plan` (`--new-plan`)
moves the old plan's rows aside to NAME~K. `retry_failed` (`--retry-failed`) also reruns failed and
timed-out trials. One driver per sweep: a second one on the same store and sweep is refused.
A trial that raises is stored as `failed` with its message; a trial whose loss becomes NaN/inf is
stored as `diverged`; a trial past `timeout` as `timeout`.
"""
from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field, model_validator

from .data import DATASETS
from .errors import UsageError
from .limits import MAX_SEED, Name, PathText
from .schema import STRICT, Flag, Integer, Number, validate

# Keys that never change a trial's result: they may differ between runs of one sweep.
RESULT_NEUTRAL_KEYS = ("store", "resources", "max_retries", "timeout", "checkpoints", "tensorboard")
DATASET_KEYS = ("name", "dir")
DATASET_OPTIONS = {"fashion-mnist": (), "cifar10": (), "imagefolder": ("image_size", "channels"),
                   "synthetic": ("train_size", "test_size", "image_size", "channels", "num_classes", "seed", "noise")}
MAX_MODELS = 1_000_000
MAX_REPEATS = 1_000
MAX_TIMEOUT = 7 * 24 * 3600.0


@dataclass
class SweepConfig:
    name: str
    spaces: list[str]  # labels: the entry text, or a mapping's name
    models_per_space: int
    store: str
    seed: int = 0
    repeats: int = 1  # each model is trained with seeds train_seed, ..., train_seed + repeats - 1
    train_seed: int | None = None  # None: the sampling seed (every sweep before this key existed)
    regime: str = "fashion-mnist"
    flops: str | None = None
    dataset: dict = field(default_factory=lambda: {"name": "fashion-mnist"})
    recipe: Any = None  # designspace.train.Recipe
    cpus: float = 1.0
    gpus: float = 0.0
    max_retries: int = 1
    timeout: float | None = None
    checkpoints: bool = False
    tensorboard: bool = False
    source: dict = field(default_factory=dict)  # the config as given, stored with the sweep
    resolved: dict = field(default_factory=dict, repr=False)  # label -> DesignSpace

    def space(self, label: str):
        if label not in self.resolved:
            self.resolved.update(resolve_spaces([label]))
        return self.resolved[label]

    def space_definitions(self) -> dict:
        """{label: the resolved definition} as stored with the sweep."""
        return {label: space_definition(self.space(label), label) for label in self.spaces}

    def dataset_identity(self, data_dir: str | None = None) -> dict:
        """Dataset name, options and a fingerprint of its files (not its folder: moving it changes nothing)."""
        from .data import dataset_fingerprint

        options = {k: v for k, v in self.dataset.items() if k not in DATASET_KEYS}
        files = dataset_fingerprint(self.dataset["name"], data_dir or self.dataset.get("dir"))
        return {"name": self.dataset["name"], **options, **({"files": files} if files else {})}

    def identity(self, data_dir: str | None = None) -> dict:
        """Everything that changes the sweep's results; stored with its plan and compared on rerun."""
        identity = {"spaces": self.space_definitions(), "models_per_space": self.models_per_space,
                    "repeats": self.repeats, "seed": self.seed, "regime": self.regime, "flops": self.flops,
                    "dataset": self.dataset_identity(data_dir), "recipe": self.recipe.to_dict()}
        if self.train_seed is not None:  # absent when unset, so the identities stored before it stay equal
            identity["train_seed"] = self.train_seed
        return identity

    @property
    def training_seeds(self) -> range:
        first = self.seed if self.train_seed is None else self.train_seed
        return range(first, first + self.repeats)

    def trial_context(self, data_dir: str | None = None) -> dict:
        """Everything besides spec, space and seed that defines a trial (hashed into its id)."""
        return {"recipe": self.recipe.to_dict(), "dataset": self.dataset_identity(data_dir), "regime": self.regime,
                "sweep": self.name}


# --- config ---
def space_label(entry) -> str:
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict) and isinstance(entry.get("name"), str):
        return entry["name"]
    raise UsageError(f"a spaces entry must be a space name, file, inline definition or a mapping with a name, "
                     f"got {entry!r}")


def resolve_spaces(entries: list) -> dict:
    """{label: DesignSpace} for the config's `spaces:` entries; the one place they are resolved.
    An entry is whatever get_space accepts (a name, a YAML path, an inline string, a mapping);
    its label is the entry text, or the mapping's name."""
    from .spaces import get_space

    out = {}
    for entry in entries:
        label = space_label(entry)
        if label in out:
            raise UsageError(f"config key spaces lists {label!r} twice")
        out[label] = get_space(entry)
    return out


def space_definition(space, label: str) -> dict:
    """The space's resolved definition (JSON-able), or just its name where it has none to give."""
    definition = getattr(space, "definition", None)
    if callable(definition):
        return definition()
    return {"name": getattr(space, "name", label)}


class Resources(BaseModel):
    model_config = STRICT
    cpus: Annotated[Number, Field(ge=0, le=4096)] = 1.0
    gpus: Annotated[Number, Field(ge=0, le=64)] = 0.0

    @model_validator(mode="after")
    def _runnable(self):
        check_resources(self.cpus, self.gpus, "resources")
        return self


class DatasetSection(BaseModel):
    """`dataset:` a name, or a mapping with the name, a folder and (synthetic, imagefolder) options."""
    model_config = STRICT
    name: Literal[DATASETS]
    dir: PathText | None = None
    train_size: Integer | None = None
    test_size: Integer | None = None
    image_size: Integer | None = None
    channels: Integer | None = None
    num_classes: Integer | None = None
    seed: Integer | None = None
    noise: Number | None = None

    @model_validator(mode="after")
    def _options_of_this_dataset(self):
        from .data import check_synthetic_options

        allowed = DATASET_OPTIONS[self.name]
        for key in sorted(self.model_fields_set - set(DATASET_KEYS)):
            if key not in allowed:
                valid = ", ".join(DATASET_KEYS + allowed)
                raise ValueError(f"dataset {self.name} takes no option {key!r}; valid: {valid}")
        if self.name == "synthetic":  # bounded sizes, checked without making the data
            check_synthetic_options(**self.options())
        return self

    def options(self) -> dict:
        return {k: getattr(self, k) for k in sorted(self.model_fields_set) if k not in DATASET_KEYS}

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("name", *sorted(self.model_fields_set - {"name"}))}


def _one_or_list(value):
    return [value] if isinstance(value, (str, dict)) else value


def _dataset_name(value):
    return {"name": value} if isinstance(value, str) else value


def _flops_band(value):
    from .spaces import parse_flops

    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"must be a band like 3M:8M, got {value!r}")
    parse_flops(str(value))
    return str(value)


class SweepSchema(BaseModel):
    """The keys of a sweep config (see the module docstring), each with its type and range."""
    model_config = STRICT
    name: Name
    store: PathText | None = None
    spaces: Annotated[list[str | dict], BeforeValidator(_one_or_list), Field(min_length=1, max_length=1000)]
    models_per_space: Annotated[Integer, Field(ge=1, le=MAX_MODELS)]
    repeats: Annotated[Integer, Field(ge=1, le=MAX_REPEATS)] = 1
    seed: Annotated[Integer, Field(ge=0, le=MAX_SEED)] = 0
    train_seed: Annotated[Integer, Field(ge=0, le=MAX_SEED)] | None = None
    regime: str | None = None
    flops: Annotated[str | None, BeforeValidator(lambda v: v if v is None else _flops_band(v))] = None
    dataset: Annotated[DatasetSection, BeforeValidator(_dataset_name)] = DatasetSection(name="fashion-mnist")
    recipe: dict | None = None  # checked by train.Recipe, which knows the families' own keys
    resources: Resources | None = None
    max_retries: Annotated[Integer, Field(ge=0, le=100)] = 1
    timeout: Annotated[Number, Field(gt=0, le=MAX_TIMEOUT)] | None = None
    checkpoints: Flag = False
    tensorboard: Flag = False

    @model_validator(mode="after")
    def _seeds_fit(self):
        first = self.seed if self.train_seed is None else self.train_seed
        if first + self.repeats - 1 > MAX_SEED:
            raise ValueError(f"seed (or train_seed) + repeats - 1 must stay <= {MAX_SEED}")
        return self


def parse_config(raw: Any, path: str = "config") -> SweepConfig:
    """Validate a config mapping; every problem is a one-line UsageError naming the key."""
    if not isinstance(raw, dict):
        raise UsageError(f"{path}: a sweep config must be a YAML mapping")
    schema = validate(SweepSchema, raw, path, noun="config key")
    resolved = _resolved_spaces(schema.spaces, path)
    regime = _regime(schema, path)
    recipe = _recipe(schema.recipe, path)
    if schema.tensorboard:
        tensorboard_writer_class(f"{path}: config key tensorboard")
    resources = schema.resources or Resources()
    return SweepConfig(name=schema.name, spaces=list(resolved), models_per_space=schema.models_per_space,
                       store=schema.store or os.path.join("results", schema.name, "results.db"), seed=schema.seed,
                       repeats=schema.repeats, train_seed=schema.train_seed, regime=regime, flops=schema.flops,
                       dataset=schema.dataset.as_dict(), recipe=recipe, cpus=resources.cpus, gpus=resources.gpus,
                       max_retries=schema.max_retries, timeout=schema.timeout, checkpoints=schema.checkpoints,
                       tensorboard=schema.tensorboard, source=dict(raw), resolved=resolved)


def _resolved_spaces(entries: list, path: str) -> dict:
    try:
        resolved = resolve_spaces(entries)
    except UsageError as exc:
        raise UsageError(f"{path}: config key spaces: {exc}") from None
    for label in resolved:
        if "\0" in label or len(label) > 500:
            raise UsageError(f"{path}: config key spaces: a label must be under 500 characters without NUL, "
                             f"got {label[:60]!r}")
    return resolved


def _regime(schema: SweepSchema, path: str) -> str:
    from .data import DATASET_REGIME
    from .regimes import get_regime

    try:
        return get_regime(schema.regime or DATASET_REGIME[schema.dataset.name]).name
    except UsageError as exc:
        raise UsageError(f"{path}: config key regime: {exc}") from None


def _recipe(raw: dict | None, path: str):
    from .train import Recipe

    try:
        return Recipe.from_dict(raw or {})
    except UsageError as exc:
        raise UsageError(f"{path}: config {exc}") from None


def check_resources(cpus: float, gpus: float, what: str = "a trial") -> None:
    if cpus <= 0 and gpus <= 0:
        raise UsageError(f"{what} needs cpus > 0 or gpus > 0")
    if gpus > 1 and not float(gpus).is_integer():
        raise UsageError(f"{what}: gpus above 1 must be a whole number, got {gpus:g}")


def tensorboard_writer_class(what: str = "tensorboard"):
    """torch.utils.tensorboard.SummaryWriter, or a one-line UsageError where the tensorboard
    package is not installed (torch ships only the writer's front end)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise UsageError(f"{what}: true needs the tensorboard package (pip install tensorboard), which is "
                         "not installed; per-epoch records are in the store either way (store.load_epochs)") from None
    return SummaryWriter


def read_yaml(path: str, what: str = "sweep config"):
    """A YAML file read safely: bounded size, text only, no aliases (a billion-laughs file cannot
    expand), plain types only (yaml.SafeLoader)."""
    import yaml

    from .limits import MAX_CONFIG_BYTES

    class NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                mark = self.peek_event().start_mark
                raise UsageError(f"{path} uses a YAML alias (line {mark.line + 1}); aliases are not accepted "
                                 f"in a {what}")
            return super().compose_node(parent, index)

    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise UsageError(f"{what} {path} not found") from None
    except (IsADirectoryError, NotADirectoryError):
        raise UsageError(f"{what} {path} is not a file") from None
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise UsageError(f"{what} {path} is larger than {MAX_CONFIG_BYTES:,} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{what} {path} is not UTF-8 text (byte {exc.start})") from None
    if "\0" in text:
        raise UsageError(f"{what} {path} is binary, not YAML text")
    try:
        return yaml.load(text, Loader=NoAliasLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"{path} is not valid YAML: {first}") from None
    except RecursionError:
        raise UsageError(f"{path} nests too deeply") from None


def load_config(path: str) -> SweepConfig:
    return parse_config(read_yaml(path), path)


# --- planning ---
def plan_trials(cfg: SweepConfig, data_dir: str | None = None) -> list[dict]:
    """Every trial of the sweep as a store row without results: sampling is deterministic in the
    seed, so a rerun plans exactly the same trials with the same ids."""
    from .store import trial_id
    from .table import spec_rows

    context = cfg.trial_context(data_dir)
    trials = []
    for name in cfg.spaces:
        space = cfg.space(name)
        draw, cx = space.sample_arrays(cfg.models_per_space, seed=cfg.seed, flops=cfg.flops, regime=cfg.regime)
        specs = space.specs_from(draw)
        for spec, row in zip(specs, spec_rows(specs, cx, cfg.regime)):
            cx_train = next((row[k] for k in ("cx_train_flops", "cx_train") if k in row), None)
            for seed in cfg.training_seeds:  # sampling used cfg.seed
                trials.append({
                    "trial_id": trial_id(spec.id, {**context, "space": name}, seed),
                    "sweep": cfg.name, "space": name, "spec_id": spec.id, "spec": spec.to_json(sort_keys=True),
                    "regime": cfg.regime, "dataset": cfg.dataset["name"], "recipe": cfg.recipe.to_dict(),
                    "seed": seed, "flops": row["flops"], "params": row["params"], "acts": row["acts"],
                    "cx_train": cx_train,
                })
    return trials


def identity_changes(old: dict, new: dict, prefix: str = "") -> list[str]:
    """'key: old -> new' for every leaf that differs between two identities."""
    out = []
    for key in sorted(set(old) | set(new), key=str):
        a, b = old.get(key, "<absent>"), new.get(key, "<absent>")
        where = f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            out += identity_changes(a, b, where + ".")
        elif a != b:
            short = lambda v: (repr(v) if len(repr(v)) <= 40 else repr(v)[:37] + "...")  # noqa: E731
            out.append(f"{where}: {short(a)} -> {short(b)}")
    return out


def load_sweep_data(cfg: SweepConfig, data_dir: str | None = None):
    """The dataset in memory, cut to the recipe's subset sizes and fitted to the sweep's regime (resized
    for NAME@SIZE) once, not per trial; a dataset the regime cannot train is a UsageError here, before
    any trial starts."""
    from .data import fit_to_regime, load_dataset

    options = {k: v for k, v in cfg.dataset.items() if k not in DATASET_KEYS}
    data = load_dataset(cfg.dataset["name"], data_dir or cfg.dataset.get("dir"), **options)
    return fit_to_regime(data.subset(cfg.recipe.train_size, cfg.recipe.test_size), cfg.regime)


# --- the Ray task ---
class TrialTimeout(Exception):
    pass


def run_trial(trial: dict, recipe: dict, data, threads: int, timeout: float | None = None,
              attempt: int = 1, keep_state: bool = False) -> dict:
    """Train one planned trial; never raises for a trial's own error (that is a `failed` row).

    timeout: seconds for this attempt. The trainer stops at the first step past it (status
    `timeout`); a hard alarm a little later stops code that does not return to the step loop."""
    import threading
    import traceback

    from .spec import ModelSpec
    from .train import train

    row = dict(trial, started_at=time.time(), attempts=attempt)
    alarm = timeout is not None and threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGALRM")
    if alarm:
        def on_alarm(signum, frame):
            raise TrialTimeout()

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout * 1.1 + 5.0)
    try:
        spec = ModelSpec.from_json(trial["spec"])
        deadline = None if timeout is None else time.monotonic() + timeout
        metrics = train(spec, recipe, data, regime=trial["regime"], seed=trial["seed"], threads=threads,
                        deadline=deadline, keep_state=keep_state)
    except TrialTimeout:
        row.update(status="timeout", message=f"timeout: stopped after {time.time() - row['started_at']:.0f} s "
                                             f"(timeout {timeout:g} s)", seconds=time.time() - row["started_at"])
        return row
    except Exception as exc:  # a trial's bug or bad model must not stop the sweep: store it
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" ({os.path.basename(tb[-1].filename)}:{tb[-1].lineno})" if tb else ""
        row.update(status="failed", message=f"{type(exc).__name__}: {exc}{where}"[:2000])
        return row
    finally:
        if alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    extra = {k: metrics[k] for k in ("steps", "train_size", "test_size") if k in metrics}
    extra.update(metrics.get("extra") or {})  # e.g. DyRep's per-epoch cx_train
    row.update({k: metrics.get(k) for k in ("status", "error", "train_loss", "epochs", "seconds", "images_per_s",
                                            "device", "message")}, extra=extra)
    row["per_epoch"] = metrics.get("per_epoch") or []
    if metrics.get("cx_train") is not None:  # training cost measured by the trial (DyRep grows and prunes)
        row["cx_train"] = metrics["cx_train"]
    if keep_state and metrics.get("state_dict") is not None:
        row["_checkpoint"] = {"state_dict": metrics["state_dict"], "spec": metrics.get("deploy_spec")}
    return row


def failed_row(trial: dict, exc: BaseException, attempt: int = 1) -> dict:
    """A trial Ray could not run (its worker or node died on every attempt, or the task was lost)."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return dict(trial, status="failed", attempts=attempt, message=f"{type(exc).__name__}: {message}"[:2000])


# --- the cluster ---
def check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast (one line) when HOST:PORT or ray://HOST:PORT does not answer: ray.init would retry
    for minutes."""
    import socket

    target = address.removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise UsageError(f"--address {address!r} is not auto, HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise UsageError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}") from None


def resolve_address(address: str) -> str:
    """'auto' means the cluster `ray start` recorded on this machine (or $RAY_ADDRESS), never a
    cluster another program started privately (Ray's own 'auto' joins any running one)."""
    if address != "auto":
        return address
    found = os.environ.get("RAY_ADDRESS") or None
    if not found:
        try:
            from ray._private.utils import read_ray_address

            found = read_ray_address(None)
        except Exception:  # noqa: BLE001 (an internal helper of Ray: fall back to its default file)
            path = os.path.join(os.environ.get("RAY_TMPDIR", "/tmp"), "ray", "ray_current_cluster")
            found = open(path).read().strip() if os.path.exists(path) else None
    if not found or found == "auto":
        raise UsageError("--address auto: no cluster started with `ray start --head` on this machine "
                         "(and RAY_ADDRESS is unset); give HOST:PORT, or leave --address out for a private one")
    return found


@contextlib.contextmanager
def _interrupts_to_driver_only():
    """Start Ray's processes with SIGINT ignored (they inherit it), so that Ctrl-C in a terminal,
    which signals the whole process group, reaches only this driver: it stops the sweep and shuts
    the cluster down in order, instead of Ray's raylet dying under running calls (a C++ abort).
    SIGINT is also blocked meanwhile: Linux keeps a blocked signal pending even while it is ignored,
    so a Ctrl-C pressed during Ray's start is delivered (KeyboardInterrupt) once it has started."""
    if sys.platform == "win32" or signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        yield
        return
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: nothing to arrange
        yield
        return
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a pending Ctrl-C is raised here


def _start_ray(address: str | None, quiet: bool = True):
    import ray

    package = os.path.dirname(os.path.abspath(__file__))
    if address:
        address = resolve_address(address)
        check_reachable(address)
        # Ship this designspace package to the cluster's workers, so that they run the same code
        # as the driver whether or not (or in whichever version) it is installed there.
        runtime_env = {"py_modules": [package], "excludes": ["__pycache__", "*.pyc"]}
        try:
            with _interrupts_to_driver_only():
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
    # address="local": always a new private cluster, even where `ray start` left one running on this
    # machine. It writes no address file, so `--address auto` of another sweep never finds it.
    with _interrupts_to_driver_only():
        ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=not quiet,
                 logging_level="ERROR")
    return True


@contextlib.contextmanager
def ray_session(address: str | None):
    """Ray for one sweep: the running session if this process has one, else a new one, shut down after.
    Yields True when the session is this sweep's own (it ends with the sweep), False for a caller's."""
    import ray

    started_here = not ray.is_initialized()
    try:
        if started_here:
            _start_ray(address)
        yield started_here
    finally:
        if started_here and ray.is_initialized():  # also when Ctrl-C came while Ray was starting
            ray.shutdown()


def node_capacities() -> list[dict]:
    """{CPU, GPU} totals of each alive node."""
    import ray

    return [{"CPU": n["Resources"].get("CPU", 0.0), "GPU": n["Resources"].get("GPU", 0.0)}
            for n in ray.nodes() if n.get("Alive")]


def _fits(cfg: SweepConfig, node: dict) -> bool:
    return node["CPU"] + 1e-9 >= cfg.cpus and node["GPU"] + 1e-9 >= cfg.gpus


def check_cluster_fits(cfg: SweepConfig) -> None:
    """A trial that no node can host would wait for ever: say so at once, naming what exists."""
    nodes = node_capacities()
    if not any(_fits(cfg, n) for n in nodes):
        have = ", ".join(f"CPU {n['CPU']:g} GPU {n['GPU']:g}" for n in nodes[:4]) or "no alive node"
        raise UsageError(f"a trial asks for cpus={cfg.cpus:g} gpus={cfg.gpus:g}, but no node of the cluster has "
                         f"that much (nodes: {have}); lower resources in the config or --cpus/--gpus-per-trial")


def _slots(cfg: SweepConfig, nodes: list[dict]) -> int:
    """How many trials the alive nodes can run at once (packing per node)."""
    total = 0
    for n in nodes:
        per = []
        if cfg.cpus > 0:
            per.append(int(n["CPU"] // cfg.cpus + 1e-9))
        if cfg.gpus > 0:
            per.append(int(round(n["GPU"] / cfg.gpus, 6)))
        total += max(min(per), 0) if per else 0
    return total


# --- the driver ---
def run_sweep(cfg: SweepConfig, address: str | None = None, data_dir: str | None = None,
              progress: bool = True, out=None, retry_failed: bool = False, new_plan: bool = False) -> dict:
    """Run (or resume) a sweep. Returns counts: planned, skipped (finished rows kept), done, failed,
    diverged, timeout (this run), left_failed (failed/timed-out rows of the plan not retried), and
    messages (the first failure messages)."""
    from . import store

    out = out or sys.stderr
    # Refuse a foreign store before any work, and know what it holds (read-only).
    exists = store.check_store_file(cfg.store)
    trials = plan_trials(cfg, data_dir)
    ids = [t["trial_id"] for t in trials]
    if len(set(ids)) != len(ids):  # two spaces sampled the same architecture is fine; the same id is not
        raise UsageError(f"sweep {cfg.name} planned duplicate trial ids; check spaces and seed")
    identity = cfg.identity(data_dir)
    stored, recorded, holder = {}, None, None
    if exists:
        con = store.connect(cfg.store, create=False)
        try:
            recorded = store.get_sweep(con, cfg.name) if _has_table(con, "sweeps") else None
            stored = store.stored_statuses(con, cfg.name)
            holder = store.lock_holder(con, cfg.name)
        finally:
            con.close()
    if holder is not None and (holder["pid"], holder["host"]) != (os.getpid(), __import__("socket").gethostname()):
        raise UsageError(f"sweep {cfg.name} in {cfg.store} is being run by another driver "
                         f"({store._describe(holder)}); wait for it or stop it first")
    archive = _plan_conflict(cfg, recorded, identity, ids, stored, new_plan)
    if archive:
        stored = {tid: s for tid, s in stored.items() if tid in set(ids)}
    rerun = set(store.RETRYABLE) if retry_failed else set()
    todo = [t for t in trials if t["trial_id"] not in stored or stored[t["trial_id"]] in rerun]
    left = [tid for tid in ids if stored.get(tid) in store.RETRYABLE and stored[tid] not in rerun]
    counts = {"planned": len(trials), "skipped": len(trials) - len(todo), "done": 0, "failed": 0,
              "diverged": 0, "timeout": 0, "left_failed": len(left), "messages": []}
    # Load the data before touching the store: a missing dataset fails fast and creates nothing.
    data = load_sweep_data(cfg, data_dir) if todo else None
    with contextlib.ExitStack() as stack:
        own_session = False
        if todo:
            own_session = stack.enter_context(ray_session(address))
            check_cluster_fits(cfg)
        con = store.connect(cfg.store)
        stack.callback(con.close)
        store.acquire_lock(con, cfg.name, cfg.store)
        stack.callback(store.release_lock, con, cfg.name)
        if archive:
            old, moved = store.archive_sweep(con, cfg.name, ids)
            print(f"sweep {cfg.name}: new plan; {moved} row(s) of the previous plan kept as sweep {old}", file=out)
        store.record_sweep(con, cfg.name, cfg.source, len(trials), plan=ids, identity=identity,
                           spaces=identity["spaces"])
        if todo:
            _drive(cfg, todo, data, con, counts, progress, out, cancel_on_interrupt=not own_session)
        if left:
            _failure_messages(con, left, counts)
    _print_summary(cfg, counts, out, nothing_to_do=not todo)
    return counts


def _has_table(con, name: str) -> bool:
    return con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


def _plan_conflict(cfg, recorded, identity, ids, stored, new_plan) -> bool:
    """Whether the stored rows belong to another plan: raise (naming the change) unless new_plan,
    in which case the caller archives them. False when the plan is the stored one (or new)."""
    if recorded and recorded.get("identity") is not None:
        changes = identity_changes(recorded["identity"], identity)
        if not changes and recorded.get("plan") not in (None, ids):
            changes = [f"the trials planned from the same config differ ({len(set(recorded['plan']) ^ set(ids))} "
                       "ids; another designspace version samples differently)"]
    else:  # no stored plan (a new sweep, or a store from before plans): rows outside this plan conflict
        foreign = set(stored) - set(ids)
        changes = [f"{len(foreign)} stored row(s) of sweep {cfg.name} are not in this plan (stored before "
                   "plans were recorded, or with other settings)"] if foreign else []
    if not changes:
        return False
    if not new_plan:
        shown = "; ".join(changes[:3]) + (f"; and {len(changes) - 3} more" if len(changes) > 3 else "")
        raise UsageError(f"sweep {cfg.name} in {cfg.store} was planned with another config ({shown}); rerun with "
                         f"--new-plan to plan it again (the old rows are kept as {cfg.name}~N), or use another name")
    return True


def _failure_messages(con, ids, counts) -> None:
    for tid in ids[:3]:
        row = con.execute("SELECT status, message FROM trials WHERE trial_id = ?", (tid,)).fetchone()
        if row and len(counts["messages"]) < 3:
            counts["messages"].append(f"{row[0]}: {row[1] or ''}"[:300])


def _print_summary(cfg, counts, out, nothing_to_do=False) -> None:
    bad = counts["failed"] + counts["timeout"] + counts["left_failed"]
    if nothing_to_do and not bad:
        print(f"sweep {cfg.name}: all {counts['planned']} trials already in {cfg.store}", file=out)
        return
    print(f"sweep {cfg.name}: {counts['done']} done, {counts['failed']} failed, {counts['diverged']} diverged, "
          f"{counts['timeout']} timed out, {counts['skipped']} already stored -> {cfg.store}", file=out)
    if bad:
        left = f" ({counts['left_failed']} stored earlier; --retry-failed reruns them)" if counts["left_failed"] else ""
        print(f"sweep {cfg.name}: {bad} trial(s) failed or timed out{left}; first: "
              + " | ".join(counts["messages"][:3]), file=out)


RAY_RETRYABLE = ("WorkerCrashedError", "NodeDiedError", "ObjectLostError", "OwnerDiedError",
                 "ObjectReconstructionFailedError", "RaySystemError", "LocalRayletDiedError",
                 "OutOfMemoryError", "ActorDiedError", "TaskUnschedulableError")


def _drive(cfg, todo, data, con, counts, progress, out, window: int | None = None,
           cancel_on_interrupt: bool = True):
    """Keep a bounded window of trials in flight (ray.wait on it, not on every pending trial), write
    each batch of results in one transaction, resubmit trials whose worker or node died (counting
    attempts), and show `waiting for resources` when no alive node can host a trial."""
    import ray
    from tqdm import tqdm

    from . import store

    data_ref = ray.put(data)  # once, shared by every task through the object store
    threads = max(int(cfg.cpus), 1)
    task = ray.remote(run_trial).options(num_cpus=cfg.cpus, num_gpus=cfg.gpus, max_retries=0,
                                         retry_exceptions=False)
    recipe = cfg.recipe.to_dict()
    queue = deque((t, 1) for t in todo)
    inflight: dict = {}
    nodes = node_capacities()
    slots = _slots(cfg, nodes)
    window = window or max(4 * slots, 64)  # enough queued that no slot idles between results; ray.wait stays cheap
    writer = _EpochWriter(cfg) if cfg.tensorboard else None

    def submit():
        while queue and len(inflight) < window:
            trial, attempt = queue.popleft()
            ref = task.remote(trial, recipe, data_ref, threads, cfg.timeout, attempt, cfg.checkpoints)
            inflight[ref] = (trial, attempt)

    bar = tqdm(total=len(todo), desc=f"sweep {cfg.name}", unit="trial", file=out, disable=not progress,
               dynamic_ncols=True, smoothing=0.1)
    state = {"waiting": False, "checked": 0.0, "beat": time.monotonic()}

    def postfix():
        running = "waiting for resources" if state["waiting"] else f"running={min(len(inflight), slots)}"
        bar.set_postfix_str(f"done={counts['done']} failed={counts['failed']} diverged={counts['diverged']} "
                            f"timeout={counts['timeout']} {running} resumed={counts['skipped']}", refresh=False)

    live = getattr(out, "isatty", lambda: False)()
    submit()
    postfix()
    bar.refresh()
    try:
        while inflight:
            ready, _ = ray.wait(list(inflight), num_returns=1, timeout=1.0)
            if ready:  # take whatever else finished too, and write them in one transaction
                ready, _ = ray.wait(list(inflight), num_returns=len(inflight), timeout=0)
            rows = []
            for ref in ready:
                trial, attempt = inflight.pop(ref)
                try:
                    row = ray.get(ref)
                except ray.exceptions.RayError as exc:  # worker or node died, task lost
                    if type(exc).__name__ in RAY_RETRYABLE and attempt <= cfg.max_retries:
                        queue.appendleft((trial, attempt + 1))
                        continue
                    row = failed_row(trial, exc, attempt)
                rows.append(row)
            now = time.monotonic()
            if rows:
                for row in rows:
                    _save_checkpoint(cfg, row)
                store.write_trials(con, rows)
                for row in rows:
                    counts[row["status"]] += 1
                    if row["status"] in store.RETRYABLE and len(counts["messages"]) < 3:
                        counts["messages"].append(f"{row['status']}: {row.get('message') or ''}"[:300])
                    if writer is not None:
                        writer.write(row)
            if now - state["checked"] > 2.0:  # the cluster may have shrunk (or grown) under us
                nodes = node_capacities()
                slots = _slots(cfg, nodes)
                state["waiting"] = not any(_fits(cfg, n) for n in nodes)
                state["checked"] = now
            if now - state["beat"] > store.HEARTBEAT_S:
                store.heartbeat(con, cfg.name)
                state["beat"] = now
            submit()
            postfix()
            if rows:
                bar.update(len(rows))
            elif live or state["waiting"]:  # a terminal ticks the elapsed time; a log file gets results only
                bar.refresh()
        bar.close()
    except BaseException:
        # Interrupted: stored rows stay as they are, and the work in flight must stop. In the sweep's own
        # session, ray.shutdown() does that: a private cluster stops whole, and a joined cluster kills the
        # workers of a job whose driver left. ray.cancel() is only for a caller's session, which lives on:
        # a cancel that races a task's own completion can abort the driver inside Ray's C++ task manager
        # ("Tried to complete task that was not pending", ray-project/ray#54846).
        if cancel_on_interrupt:
            for ref in inflight:
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=True)
        bar.close()
        raise
    finally:
        if writer is not None:
            writer.close()


def _save_checkpoint(cfg, row) -> None:
    """Write a finished trial's weights next to the store, in the format `deploy` reads."""
    ckpt = row.pop("_checkpoint", None)
    if ckpt is None or row.get("status") != "done":
        return
    from .safeload import save_checkpoint
    from .spec import ModelSpec

    spec = ModelSpec.from_dict(ckpt["spec"]) if ckpt.get("spec") else ModelSpec.from_json(row["spec"])
    path = checkpoint_path(cfg, row["trial_id"])
    save_checkpoint(path, spec, row["regime"], ckpt["state_dict"], trial_id=row["trial_id"], sweep=cfg.name,
                    error=float(row["error"]) if row.get("error") is not None else float("nan"))
    extra = dict(row.get("extra") or {})
    extra["checkpoint"] = os.path.relpath(path, os.path.dirname(os.path.abspath(cfg.store)))
    row["extra"] = extra


def checkpoint_path(cfg, trial_id: str) -> str:
    return os.path.join(os.path.dirname(os.path.abspath(cfg.store)), "checkpoints", cfg.name, f"{trial_id}.pt")


class _EpochWriter:
    """TensorBoard event files, one run per trial, from the per-epoch records the driver receives."""

    def __init__(self, cfg):
        self.cls = tensorboard_writer_class()
        self.root = os.path.join(os.path.dirname(os.path.abspath(cfg.store)), "tensorboard", cfg.name)

    def write(self, row):
        if not row.get("per_epoch"):
            return
        w = self.cls(log_dir=os.path.join(self.root, row["trial_id"]))
        try:
            for e in row["per_epoch"]:
                for key in ("train_loss", "test_error", "lr", "seconds"):
                    if e.get(key) is not None:
                        w.add_scalar(key, e[key], e["epoch"])
        finally:
            w.close()

    def close(self):
        pass
