"""The Ray session of a sweep: a private local cluster or a joined one, Ctrl-C delivered to the driver
only, and what the alive nodes can host."""
from __future__ import annotations

import contextlib
import os
import signal
import sys

from ..errors import UsageError
from .config import SweepConfig


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
        except Exception:  # an internal helper of Ray, which may change: fall back to its default file
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


def start_ray(address: str | None, quiet: bool = True):
    import ray

    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # designspace/
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
            start_ray(address)
        yield started_here
    finally:
        if started_here and ray.is_initialized():  # also when Ctrl-C came while Ray was starting
            ray.shutdown()


def node_capacities() -> list[dict]:
    """{CPU, GPU} totals of each alive node."""
    import ray

    return [{"CPU": n["Resources"].get("CPU", 0.0), "GPU": n["Resources"].get("GPU", 0.0)}
            for n in ray.nodes() if n.get("Alive")]


def fits(cfg: SweepConfig, node: dict) -> bool:
    return node["CPU"] + 1e-9 >= cfg.cpus and node["GPU"] + 1e-9 >= cfg.gpus


def check_cluster_fits(cfg: SweepConfig) -> None:
    """A trial that no node can host would wait for ever: say so at once, naming what exists."""
    nodes = node_capacities()
    if not any(fits(cfg, n) for n in nodes):
        have = ", ".join(f"CPU {n['CPU']:g} GPU {n['GPU']:g}" for n in nodes[:4]) or "no alive node"
        raise UsageError(f"a trial asks for cpus={cfg.cpus:g} gpus={cfg.gpus:g}, but no node of the cluster has "
                         f"that much (nodes: {have}); lower resources in the config or --cpus/--gpus-per-trial")


def slots(cfg: SweepConfig, nodes: list[dict]) -> int:
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
