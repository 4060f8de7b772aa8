"""The dashboard's state: what each store, sweep and reproduce folder shows now, recomputed only
when its files change.

Nothing runs while no page asks: each poll of the page stats the stores (sources.mark); a store
whose files changed has its progress read again (cheap SQL); a sweep whose trial rows changed has
its plots' numbers recomputed when the page asks for them, in a worker thread, and not more often
than every max(MIN_INTERVAL_S, 4 x the last computation's time) so that following a fast sweep on
a big store costs a bounded share of a core. Claims are judged again on the same terms.
"""
from __future__ import annotations

import asyncio
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..errors import UsageError
from .progress import store_progress
from .sources import ClaimsFolder, Store, mark

MIN_INTERVAL_S = 2.0  # plots of one sweep: at most this often (or 4x their cost)
CLAIMS_INTERVAL_S = 20.0  # claims of one folder: at most this often (or 4x their cost)
READ_ERRORS = (UsageError, sqlite3.Error, OSError, ValueError)


@dataclass
class _Entry:
    version: object = None  # the data version the value was computed for
    value: object = None
    computed_at: float = 0.0
    cost: float = 0.0
    task: asyncio.Future | None = None


async def _recompute(entry: _Entry, version, compute, executor, min_interval: float):
    """entry's value for `version`: cached when current, recent (throttled) or being computed, else
    computed now in `executor`."""
    if entry.task is not None:
        await asyncio.shield(entry.task)
        return entry.value
    if entry.version == version and entry.computed_at:
        return entry.value
    waited = time.monotonic() - entry.computed_at
    if entry.computed_at and waited < max(min_interval, 4 * entry.cost):
        return entry.value  # throttled: the page asks again on a later poll

    async def run():
        t0 = time.monotonic()
        try:
            value = await asyncio.get_running_loop().run_in_executor(executor, compute)
        except READ_ERRORS as exc:  # a store caught mid-write, removed or damaged: say so, try again later
            value = {"error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}
        entry.value, entry.version = value, version
        entry.computed_at, entry.cost = time.monotonic(), time.monotonic() - t0

    entry.task = asyncio.ensure_future(run())
    try:
        await asyncio.shield(entry.task)
    finally:
        entry.task = None
    return entry.value


class Dashboard:
    """The stores and reproduce folders a dashboard follows, and what it last read from them."""

    def __init__(self, stores: list[Store], folders: list[ClaimsFolder]):
        self.stores = {s.key: s for s in stores}
        self.folders = {f.key: f for f in folders}
        self._quick = ThreadPoolExecutor(max_workers=2, thread_name_prefix="dashboard-read")
        self._heavy = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dashboard-analysis")
        self._progress = {k: _Entry() for k in self.stores}
        self._panels: dict[tuple, _Entry] = {}
        self._claims = {k: _Entry() for k in self.folders}

    def close(self):
        self._quick.shutdown(wait=False, cancel_futures=True)
        self._heavy.shutdown(wait=False, cancel_futures=True)

    async def _store_state(self, store: Store) -> dict:
        entry = self._progress[store.key]
        value = await _recompute(entry, mark(store.path), lambda: store_progress(store.path), self._quick, 0.0)
        out = {"key": store.key, "label": store.label}
        if isinstance(value, dict):  # an error
            return {**out, "error": value["error"], "sweeps": []}
        return {**out, "sweeps": value}

    def _folder_version(self, folder: ClaimsFolder):
        return tuple(mark(p) for p in sorted(folder.stores.values()))

    async def state(self) -> dict:
        """Every store's sweeps with their progress (and `data`, the version of their plots' numbers),
        and every reproduce folder with the version of its claims."""
        stores = await asyncio.gather(*(self._store_state(s) for s in self.stores.values()))
        folders = [{"key": f.key, "label": f.label, "suite": f.result.get("suite"), "tier": f.result.get("tier"),
                    "version": str(hash(self._folder_version(f)))} for f in self.folders.values()]
        return {"now": time.time(), "stores": list(stores), "claims": folders}

    def _sweep_version(self, store_key: str, sweep: str):
        value = self._progress[store_key].value
        if isinstance(value, list):
            for sw in value:
                if sw["sweep"] == sweep:
                    return sw["data"]
        return None

    async def panel(self, store_key: str, sweep: str, have: str | None = None) -> dict | None:
        """The numbers behind one sweep's plots (None: no such store or sweep); only {data, unchanged}
        when they are still those of version `have` (the page has them)."""
        store = self.stores.get(store_key)
        if store is None:
            return None
        await self._store_state(store)
        version = self._sweep_version(store_key, sweep)
        if version is None:
            return None
        from .population import sweep_population  # the analysis library: imported when first needed, not at start

        entry = self._panels.setdefault((store_key, sweep), _Entry())
        value = await _recompute(entry, version, lambda: sweep_population(store.path, sweep), self._heavy,
                                 MIN_INTERVAL_S)
        if have is not None and have == entry.version:
            return {"data": entry.version, "unchanged": True}
        return {**value, "data": entry.version}

    async def model(self, store_key: str, sweep: str, trial_id: str) -> dict | None:
        store = self.stores.get(store_key)
        if store is None:
            return None
        from .population import model_detail

        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._quick, model_detail, store.path, sweep, trial_id)
        except READ_ERRORS as exc:
            return {"error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}

    async def claims(self, key: str, have: str | None = None) -> dict | None:
        folder = self.folders.get(key)
        if folder is None:
            return None
        from .claims import judge_folder

        entry = self._claims[key]
        version = self._folder_version(folder)
        value = await _recompute(entry, version, lambda: judge_folder(folder.path, folder.result), self._heavy,
                                 CLAIMS_INTERVAL_S)
        version = str(hash(entry.version))
        if have is not None and have == version:
            return {"version": version, "unchanged": True}
        return {**value, "key": key, "label": folder.label, "version": version}
