"""What a dashboard follows: the result stores and `reproduce` folders named on its command line.

A STORE_OR_DIR argument is a result store (.db) or a folder. A folder contributes the stores in it
(*.db) and its `reproduce` results: a claims.json in it or in a subfolder (reproduce writes
`<store dir>/<suite>/claims.json` beside the suite's stores `<store dir>/<sweep>.db`). Every store is
checked read-only; a file that is not a store is refused (UsageError, one line). The page names
stores and folders by an index (`key`), never by a path, so no request can name a file.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

from ..errors import UsageError
from ..store import check_store_file

CLAIMS_FILE = "claims.json"


@dataclass(frozen=True)
class Store:
    key: str  # the id the page and its data endpoints use
    path: str  # absolute
    label: str  # as the user named it (or relative to the folder they named)


@dataclass(frozen=True)
class ClaimsFolder:
    key: str
    path: str  # the folder holding claims.json
    label: str
    result: dict  # claims.json as written by `designspace reproduce`
    stores: dict  # sweep key -> store path (<parent folder>/<key>.db)


def mark(path: str) -> tuple:
    """What changes when a store changes: size, modification time and inode of the file and of its
    write-ahead log (where a writer has one). One stat per file, no SQLite: cheap enough for every poll."""
    out = []
    for p in (path, path + "-wal"):
        try:
            st = os.stat(p)
            out.append((st.st_ino, st.st_size, st.st_mtime_ns))
        except OSError:
            out.append(None)
    return tuple(out)


def _store_file(path: str) -> str:
    """`path` if it is a non-empty designspace store; UsageError (one line) otherwise."""
    if not check_store_file(path):
        raise UsageError(f"{path} is not a designspace result store (empty file)")
    return path


def _read_claims(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            result = json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path} is not a claims.json written by designspace reproduce ({exc})") from None
    if not isinstance(result, dict) or not isinstance(result.get("claims"), list) or \
            not isinstance(result.get("sweeps", {}), dict):
        raise UsageError(f"{path} is not a claims.json written by designspace reproduce (no list of claims)")
    return result


def find_sources(args) -> tuple[list[Store], list[ClaimsFolder]]:
    """Stores and reproduce folders of the command line's STORE_OR_DIR arguments, each once."""
    stores: dict[str, tuple[str, str]] = {}  # real path -> (path, label)
    claims: dict[str, tuple[str, str, dict, dict]] = {}

    def add_store(path, label):
        real = os.path.realpath(path)
        stores.setdefault(real, (os.path.abspath(path), label))

    def add_claims(folder, label):
        real = os.path.realpath(folder)
        if real in claims:
            return
        result = _read_claims(os.path.join(folder, CLAIMS_FILE))
        parent = os.path.dirname(os.path.abspath(folder))
        linked = {str(k): os.path.join(parent, f"{k}.db") for k in result.get("sweeps", {})}
        claims[real] = (os.path.abspath(folder), label, result, linked)
        for k, p in linked.items():
            if os.path.isfile(p):
                add_store(_store_file(p), os.path.join(os.path.dirname(label.rstrip("/")) or ".", f"{k}.db"))

    for arg in args:
        if not os.path.exists(arg):
            raise UsageError(f"no result store or folder at {arg}")
        if not os.path.isdir(arg):
            add_store(_store_file(arg), arg)
            continue
        found = False
        for name in sorted(os.listdir(arg)):
            path = os.path.join(arg, name)
            if name.endswith(".db") and os.path.isfile(path):
                add_store(_store_file(path), path)
                found = True
        for folder in [arg] + [os.path.join(arg, n) for n in sorted(os.listdir(arg))]:
            if os.path.isfile(os.path.join(folder, CLAIMS_FILE)):
                add_claims(folder, folder)
                found = True
        if not found:
            raise UsageError(f"{arg} holds no result store (*.db) and no {CLAIMS_FILE} of designspace reproduce")
    return ([Store(str(i), p, label) for i, (p, label) in enumerate(stores.values())],
            [ClaimsFolder(str(i), p, label, res, linked) for i, (p, label, res, linked) in enumerate(claims.values())])
