"""The sweep driver: plan, refuse what conflicts, keep a bounded window of trials in flight, write each
batch of results in one transaction, resubmit trials whose worker died, and report."""
from __future__ import annotations

import contextlib
import sys
import time
from collections import deque
from dataclasses import dataclass

from .. import store
from ..errors import UsageError
from .config import DATASET_KEYS, SweepConfig
from .outputs import EpochWriter, save_checkpoint
from .plan import plan_conflict, plan_trials
from .session import check_cluster_fits, fits, node_capacities, ray_session, slots
from .trial import failed_row, run_trial

# Ray errors after which a trial is rerun (its worker, node or object died), up to max_retries times.
RAY_RETRYABLE = ("WorkerCrashedError", "NodeDiedError", "ObjectLostError", "OwnerDiedError",
                 "ObjectReconstructionFailedError", "RaySystemError", "LocalRayletDiedError",
                 "OutOfMemoryError", "ActorDiedError", "TaskUnschedulableError")


@dataclass
class Plan:
    """What a run of the sweep does: every planned trial, those to train now, and the stored state."""
    trials: list
    ids: list
    identity: dict
    todo: list
    left: list  # failed / timed-out ids of the plan this run does not retry
    archive: bool  # the stored rows belong to another plan: move them aside first


def run_sweep(cfg: SweepConfig, address: str | None = None, data_dir: str | None = None,
              progress: bool = True, out=None, retry_failed: bool = False, new_plan: bool = False) -> dict:
    """Run (or resume) a sweep. Returns counts: planned, skipped (finished rows kept), done, failed,
    diverged, timeout (this run), left_failed (failed/timed-out rows of the plan not retried), and
    messages (the first failure messages)."""
    out = out or sys.stderr
    plan = make_plan(cfg, data_dir, retry_failed, new_plan)
    counts = {"planned": len(plan.trials), "skipped": len(plan.trials) - len(plan.todo), "done": 0, "failed": 0,
              "diverged": 0, "timeout": 0, "left_failed": len(plan.left), "messages": []}
    # Load the data before touching the store: a missing dataset fails fast and creates nothing.
    data = load_sweep_data(cfg, data_dir) if plan.todo else None
    with contextlib.ExitStack() as stack:
        own_session = False
        if plan.todo:
            own_session = stack.enter_context(ray_session(address))
            check_cluster_fits(cfg)
        con = _locked_store(cfg, stack)
        _record(cfg, con, plan, out)
        if plan.todo:
            drive(cfg, plan.todo, data, con, counts, progress, out, cancel_on_interrupt=not own_session)
        _failure_messages(con, plan.left, counts)
    _print_summary(cfg, counts, out, nothing_to_do=not plan.todo)
    return counts


def make_plan(cfg: SweepConfig, data_dir: str | None, retry_failed: bool, new_plan: bool) -> Plan:
    """Plan the trials and compare them with the store (read-only): refuse a foreign store, a store another
    driver is running, or a changed plan (unless new_plan), before any work."""
    exists = store.check_store_file(cfg.store)
    trials = plan_trials(cfg, data_dir)
    ids = [t["trial_id"] for t in trials]
    if len(set(ids)) != len(ids):  # two spaces sampled the same architecture is fine; the same id is not
        raise UsageError(f"sweep {cfg.name} planned duplicate trial ids; check spaces and seed")
    identity = cfg.identity(data_dir)
    stored, recorded = _stored_state(cfg) if exists else ({}, None)
    archive = plan_conflict(cfg, recorded, identity, ids, stored, new_plan)
    if archive:
        stored = {tid: s for tid, s in stored.items() if tid in set(ids)}
    rerun = set(store.RETRYABLE) if retry_failed else set()
    todo = [t for t in trials if t["trial_id"] not in stored or stored[t["trial_id"]] in rerun]
    left = [tid for tid in ids if stored.get(tid) in store.RETRYABLE and stored[tid] not in rerun]
    return Plan(trials, ids, identity, todo, left, archive)


def _stored_state(cfg: SweepConfig) -> tuple[dict, dict | None]:
    """{trial id: status} and the recorded sweep of an existing store; refused while another driver runs it."""
    con = store.connect(cfg.store, create=False)
    try:
        store.check_free(con, cfg.name, cfg.store)
        recorded = store.get_sweep(con, cfg.name) if store.has_table(con, "sweeps") else None
        return store.stored_statuses(con, cfg.name), recorded
    finally:
        con.close()


def _locked_store(cfg: SweepConfig, stack: contextlib.ExitStack):
    """The store open for writing, with this process as the sweep's one driver until the stack closes."""
    con = store.connect(cfg.store)
    stack.callback(con.close)
    store.acquire_lock(con, cfg.name, cfg.store)
    stack.callback(store.release_lock, con, cfg.name)
    return con


def _record(cfg: SweepConfig, con, plan: Plan, out) -> None:
    """Move an old plan's rows aside when asked, and store this plan with its identity."""
    if plan.archive:
        old, moved = store.archive_sweep(con, cfg.name, plan.ids)
        print(f"sweep {cfg.name}: new plan; {moved} row(s) of the previous plan kept as sweep {old}", file=out)
    store.record_sweep(con, cfg.name, cfg.source, len(plan.trials), plan=plan.ids, identity=plan.identity,
                       spaces=plan.identity["spaces"])


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


class _Window:
    """The trials in flight: a bounded window of Ray tasks (ray.wait on it, not on every pending trial),
    refilled from the queue; trials whose worker or node died go back to its front."""

    def __init__(self, cfg: SweepConfig, todo: list, data, window: int | None):
        import ray

        self.cfg = cfg
        self.data_ref = ray.put(data)  # once, shared by every task through the object store
        self.task = ray.remote(run_trial).options(num_cpus=cfg.cpus, num_gpus=cfg.gpus, max_retries=0,
                                                  retry_exceptions=False)
        self.recipe = cfg.recipe.to_dict()
        self.threads = max(int(cfg.cpus), 1)
        self.queue = deque((t, 1) for t in todo)
        self.inflight: dict = {}
        self.checked = 0.0
        self.check_cluster(force=True)
        self.size = window or max(4 * self.slots, 64)  # no slot idles between results; ray.wait stays cheap

    def submit(self) -> None:
        while self.queue and len(self.inflight) < self.size:
            trial, attempt = self.queue.popleft()
            ref = self.task.remote(trial, self.recipe, self.data_ref, self.threads, self.cfg.timeout, attempt,
                                   self.cfg.checkpoints)
            self.inflight[ref] = (trial, attempt)

    def finished(self) -> list[dict]:
        """The rows of every trial that finished within a second (all at once: one transaction)."""
        import ray

        ready, _ = ray.wait(list(self.inflight), num_returns=1, timeout=1.0)
        if ready:
            ready, _ = ray.wait(list(self.inflight), num_returns=len(self.inflight), timeout=0)
        rows = []
        for ref in ready:
            trial, attempt = self.inflight.pop(ref)
            try:
                rows.append(ray.get(ref))
            except ray.exceptions.RayError as exc:  # worker or node died, task lost
                if type(exc).__name__ in RAY_RETRYABLE and attempt <= self.cfg.max_retries:
                    self.queue.appendleft((trial, attempt + 1))
                else:
                    rows.append(failed_row(trial, exc, attempt))
        return rows

    def check_cluster(self, force: bool = False) -> None:
        """Every 2 s: the cluster may have shrunk (or grown) under us."""
        now = time.monotonic()
        if force or now - self.checked > 2.0:
            nodes = node_capacities()
            self.slots = slots(self.cfg, nodes)
            self.waiting = not any(fits(self.cfg, n) for n in nodes)
            self.checked = now

    def cancel(self) -> None:
        import ray

        for ref in self.inflight:
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)


class _Progress:
    """The tqdm bar: counts by status, trials running (or waiting for resources), rows resumed."""

    def __init__(self, cfg, total, counts, out, progress):
        from tqdm import tqdm

        self.counts = counts
        self.live = getattr(out, "isatty", lambda: False)()
        self.bar = tqdm(total=total, desc=f"sweep {cfg.name}", unit="trial", file=out, disable=not progress,
                        dynamic_ncols=True, smoothing=0.1)

    def show(self, window: _Window, done: int = 0) -> None:
        c = self.counts
        running = "waiting for resources" if window.waiting else f"running={min(len(window.inflight), window.slots)}"
        self.bar.set_postfix_str(f"done={c['done']} failed={c['failed']} diverged={c['diverged']} "
                                 f"timeout={c['timeout']} {running} resumed={c['skipped']}", refresh=False)
        if done:
            self.bar.update(done)
        elif self.live or window.waiting:  # a terminal ticks the elapsed time; a log file gets results only
            self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def drive(cfg, todo, data, con, counts, progress, out, window: int | None = None,
          cancel_on_interrupt: bool = True):
    """Train `todo` to the end: keep the window full, store each batch of finished rows (with their
    checkpoints and TensorBoard runs), beat the driver lock's heart, show progress."""
    flight = _Window(cfg, todo, data, window)
    bar = _Progress(cfg, len(todo), counts, out, progress)
    writer = EpochWriter(cfg) if cfg.tensorboard else None
    beat, last_running = time.monotonic(), None
    try:
        flight.submit()
        bar.show(flight)
        bar.bar.refresh()
        while flight.inflight:
            rows = flight.finished()
            if rows:
                _store_rows(cfg, con, rows, counts, writer)
            flight.check_cluster()
            running = 0 if flight.waiting else min(len(flight.inflight), flight.slots)
            if running != last_running or time.monotonic() - beat > store.HEARTBEAT_S:
                store.heartbeat(con, cfg.name, running=running)  # readers (the dashboard) see the work in flight
                beat, last_running = time.monotonic(), running
            flight.submit()
            bar.show(flight, len(rows))
        bar.close()
    except BaseException:
        # Interrupted: stored rows stay as they are, and the work in flight must stop. In the sweep's own
        # session, ray.shutdown() does that: a private cluster stops whole, and a joined cluster kills the
        # workers of a job whose driver left. ray.cancel() is only for a caller's session, which lives on:
        # a cancel that races a task's own completion can abort the driver inside Ray's C++ task manager
        # ("Tried to complete task that was not pending", ray-project/ray#54846).
        if cancel_on_interrupt:
            flight.cancel()
        bar.close()
        raise
    finally:
        if writer is not None:
            writer.close()


def _store_rows(cfg, con, rows, counts, writer) -> None:
    for row in rows:
        save_checkpoint(cfg, row)
    store.write_trials(con, rows)
    for row in rows:
        counts[row["status"]] += 1
        if row["status"] in store.RETRYABLE and len(counts["messages"]) < 3:
            counts["messages"].append(f"{row['status']}: {row.get('message') or ''}"[:300])
        if writer is not None:
            writer.write(row)


def load_sweep_data(cfg: SweepConfig, data_dir: str | None = None):
    """The dataset in memory, cut to the recipe's subset sizes and fitted to the sweep's regime (resized
    for NAME@SIZE) once, not per trial; a dataset the regime cannot train is a UsageError here, before
    any trial starts."""
    from ..data import fit_to_regime, load_dataset

    options = {k: v for k, v in cfg.dataset.items() if k not in DATASET_KEYS}
    data = load_dataset(cfg.dataset["name"], data_dir or cfg.dataset.get("dir"), **options)
    return fit_to_regime(data.subset(cfg.recipe.train_size, cfg.recipe.test_size), cfg.regime)
