"""SQLite result store: one row per trial, WAL mode, writes keyed by trial id that never replace a
finished row.

Tables: `trials` (one row per trial), `epochs` (one row per trial and epoch), `sweeps` (the config as
given, the resolved space definitions, the result-defining identity and the stored plan: every
planned trial id) and `drivers` (the lock that keeps one driver per sweep; a killed driver's lock is
recognised as stale by its pid, host and process start time, or, across hosts, by its heartbeat).

Readers (a notebook, `designspace status`) work while a sweep writes, and open the file read-only:
they never create or change a file. A file that is not a designspace store (empty, not SQLite, or
another program's SQLite database) is refused before anything is written to it.
`load(db)` returns a tidy pandas DataFrame: one row per trial, spec fields flattened into columns.
"""
from __future__ import annotations

from .lock import HEARTBEAT_S, LOCK_STALE_S, acquire_lock, check_free, describe, heartbeat, lock_holder, release_lock
from .sql import (
                   APPLICATION_ID,
                   COLUMNS,
                   EPOCH_COLUMNS,
                   RETRYABLE,
                   SCHEMA,
                   STATUSES,
                   SWEEP_COLUMNS,
                   TABLES,
                   archive_sweep,
                   check_store_file,
                   connect,
                   done_ids,
                   get_sweep,
                   has_table,
                   open_read_only,
                   planned,
                   read_only_uri,
                   record_sweep,
                   stored_statuses,
                   trial_id,
                   write_trial,
                   write_trials,
)
from .views import LIST_COLUMNS, export, flatten_specs, load, load_epochs, stage_columns, summary

__all__ = ["APPLICATION_ID", "COLUMNS", "EPOCH_COLUMNS", "HEARTBEAT_S", "LIST_COLUMNS", "LOCK_STALE_S", "RETRYABLE",
           "SCHEMA", "STATUSES", "SWEEP_COLUMNS", "TABLES", "acquire_lock", "archive_sweep", "check_free",
           "check_store_file", "connect", "describe", "done_ids", "export", "flatten_specs", "get_sweep", "has_table",
           "heartbeat", "load", "load_epochs", "lock_holder", "open_read_only", "planned", "read_only_uri",
           "record_sweep", "release_lock", "stage_columns", "stored_statuses", "summary", "trial_id", "write_trial",
           "write_trials"]
