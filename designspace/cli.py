"""The `designspace` command. Each subcommand lives in designspace/commands/<name>.py and exposes
`register(subparsers)`; heavy imports (torch, pandas, ray) happen inside the handlers only, so that
`designspace sample` starts fast."""
from __future__ import annotations

import argparse
import importlib
import sys

from .errors import UsageError

COMMANDS = ["spaces", "sample", "describe", "train", "sweep", "status", "analyze", "refine", "reproduce", "power", "calibrate",
            "deploy"]


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse would print the whole usage)
        raise UsageError(f"{self.prog}: {message}")


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="designspace", description="Design network design spaces (RegNet paper toolkit).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"designspace.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"designspace.commands.{name}":
                raise
            continue  # a command whose module is not part of this install
        module.register(sub)
    return parser


def main(argv=None) -> int:
    try:
        args = make_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"designspace: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("designspace: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
