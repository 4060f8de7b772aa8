"""designspace dashboard: a live, read-only web page following running sweeps."""

DESCRIPTION = """\
Serve a web page that follows result stores while sweeps write them: per sweep the trials done,
running, failed and timed out with an ETA, the error EDFs (plain and complexity-normalized, with
bootstrap bands) and error against flops, updating as trials land; hovering a model shows its spec
and per-epoch curve. A folder contributes its stores (*.db) and, for a `designspace reproduce`
folder, each claim's current effect, interval and verdict. Read-only: nothing is written to or
beside a store. On an address other than loopback every request needs the token printed at start."""


def _port(text):
    from ..errors import UsageError

    try:
        port = int(text)
    except ValueError:
        raise UsageError(f"--port takes a number from 0 to 65535, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise UsageError(f"--port takes a number from 0 to 65535, got {port}")
    return port


def register(sub):
    p = sub.add_parser("dashboard", help="a live, read-only web page following running sweeps",
                       description=DESCRIPTION)
    p.add_argument("sources", nargs="+", metavar="STORE_OR_DIR",
                   help="result store (.db), or a folder of stores / of designspace reproduce results")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: %(default)s, this machine only; any other address "
                        "requires the token printed at start)")
    p.add_argument("--port", type=_port, default=8765, help="port (default: %(default)s; 0: any free port)")
    p.set_defaults(func=run)


def run(args):
    import asyncio
    import os
    import sys

    from ..dashboard import Dashboard, find_sources, serve

    stores, folders = find_sources(args.sources)
    asyncio.run(serve(Dashboard(stores, folders), args.host, args.port))
    # Stopped. An analysis or a judging still running in a worker thread has nothing to save (the
    # dashboard writes nothing): leave now rather than wait for it at interpreter exit.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
