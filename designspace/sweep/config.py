"""A sweep config: its schema (each key's type and range, declared once), what it resolves to
(SweepConfig: spaces, regime, recipe, dataset), and how a YAML config file is read safely."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, model_validator

from ..data import DATASETS
from ..errors import UsageError
from ..limits import MAX_CPUS, MAX_GPUS, MAX_MODELS, MAX_REPEATS, MAX_SEED, MAX_TIMEOUT
from ..schema import STRICT, Flag, Integer, Name, Number, PathText, Seed, validate

# What a trial asks for, as the config and the sweep command's flags (--cpus-per-trial, ...) state it.
Cpus = Annotated[Number, Field(ge=0, le=MAX_CPUS)]
Gpus = Annotated[Number, Field(ge=0, le=MAX_GPUS)]
Timeout = Annotated[Number, Field(gt=0, le=MAX_TIMEOUT)]
RESULT_NEUTRAL_KEYS = ("store", "resources", "max_retries", "timeout", "checkpoints", "tensorboard")
DATASET_KEYS = ("name", "dir")
DATASET_OPTIONS = {"fashion-mnist": (), "cifar10": (), "imagefolder": ("image_size", "channels"),
                   "synthetic": ("train_size", "test_size", "image_size", "channels", "num_classes", "seed", "noise")}


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
        from ..data import dataset_fingerprint

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
    from ..spaces import get_space

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
    cpus: Cpus = 1.0
    gpus: Gpus = 0.0

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
        from ..data import ImageFolderOptions, check_synthetic_options

        allowed = DATASET_OPTIONS[self.name]
        for key in sorted(self.model_fields_set - set(DATASET_KEYS)):
            if key not in allowed:
                valid = ", ".join(DATASET_KEYS + allowed)
                raise ValueError(f"dataset {self.name} takes no option {key!r}; valid: {valid}")
        if self.name == "synthetic":  # bounded sizes, checked without making the data
            check_synthetic_options(**self.options())
        if self.name == "imagefolder":
            validate(ImageFolderOptions, self.options(), "imagefolder dataset", noun="option")
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
    from ..spaces import parse_flops

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
    seed: Seed = 0
    train_seed: Seed | None = None
    regime: str | None = None
    flops: Annotated[str | None, BeforeValidator(lambda v: v if v is None else _flops_band(v))] = None
    dataset: Annotated[DatasetSection, BeforeValidator(_dataset_name)] = DatasetSection(name="fashion-mnist")
    recipe: dict | None = None  # checked by train.Recipe, which knows the families' own keys
    resources: Resources | None = None
    max_retries: Annotated[Integer, Field(ge=0, le=100)] = 1
    timeout: Timeout | None = None
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
    from ..data import DATASET_REGIME
    from ..regimes import get_regime

    try:
        return get_regime(schema.regime or DATASET_REGIME[schema.dataset.name]).name
    except UsageError as exc:
        raise UsageError(f"{path}: config key regime: {exc}") from None


def _recipe(raw: dict | None, path: str):
    from ..train import Recipe

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

    from ..limits import MAX_CONFIG_BYTES

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
        return yaml.load(text, Loader=NoAliasLoader)  # a SafeLoader subclass: plain types only
    except yaml.YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"{path} is not valid YAML: {first}") from None
    except RecursionError:
        raise UsageError(f"{path} nests too deeply") from None


def load_config(path: str) -> SweepConfig:
    return parse_config(read_yaml(path), path)
