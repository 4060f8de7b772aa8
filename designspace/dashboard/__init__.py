"""`designspace dashboard STORE_OR_DIR...`: a live, read-only web page following running sweeps.

    sources   the stores and reproduce folders named on the command line (files refused one line each)
    progress  per sweep: trials done / running / failed / timed out, per space, and a measured ETA
    population  the numbers behind the plots: error EDFs with bands, error vs flops, one model's curve
    claims    a reproduce folder's claims: effect, interval, verdict, judged again as stores fill
    live      what the page shows now, recomputed only when a store's files change
    server    the aiohttp server: its page, plotly.js from the plotly package, JSON endpoints, the token

Read-only throughout: stores are opened through designspace.store's read-only URIs, nothing is
written beside them. The page (static/) polls /api/state every two seconds and redraws what changed.
"""
from __future__ import annotations

from .live import Dashboard
from .server import make_app, serve
from .sources import find_sources

__all__ = ["Dashboard", "find_sources", "make_app", "serve"]
