"""The `designspace` command. Each subcommand lives in designspace/commands/<name>.py and exposes
`register(subparsers)`; heavy imports (torch, pandas, ray) happen inside the handlers only, so that
`designspace sample` starts fast."""
from __future__ import annotations

import argparse
import importlib
import sys

from .errors import UsageError, did_you_mean

COMMANDS = ["spaces", "sample", "describe", "train", "sweep", "status", "analyze", "refine", "reproduce", "power",
            "calibrate",
            "deploy", "dashboard"]
# commands whose work is kept when interrupted: rerunning them goes on where they stopped
RESUMABLE = {"sweep", "reproduce", "calibrate"}


class _HelpFormatter(argparse.HelpFormatter):
    """States each option's default where its help does not already (argparse's
    ArgumentDefaultsHelpFormatter would also print `None` and `False` for unset flags)."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        unset = default is None or default is False or default is argparse.SUPPRESS or default == []
        if unset or "default" in text.lower() or not action.option_strings or action.help is argparse.SUPPRESS:
            return text
        return f"{text} (default: %(default)s)" if text else "(default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):  # one line, exit 2 (argparse would print the whole usage)
        sub = self.prog.split(" ", 1)[1] if " " in self.prog else ""
        raise UsageError(f"{sub}: {message}" if sub else message)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    from . import __version__

    try:
        return version("designspace")
    except PackageNotFoundError:  # run from a checkout that is not installed
        return __version__


class _VersionAction(argparse._VersionAction):
    """--version, with the version looked up only when asked: importlib.metadata and its scan of the
    installed packages would otherwise cost every command's start-up."""

    def __call__(self, parser, namespace, values, option_string=None):
        self.version = f"designspace {_version()}"
        super().__call__(parser, namespace, values, option_string)


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="designspace", description="Design network design spaces (the RegNet paper's "
                     "methodology): describe a space, sample models in a complexity band, train them on a Ray "
                     "cluster and compare the populations' error distributions. `designspace COMMAND -h` "
                     "describes each command.")
    parser.add_argument("--version", action=_VersionAction)
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
    parser.command_names = list(sub.choices)
    return parser


def _check_command(word: str, known: list[str]) -> None:
    """A first word that is no command: one line naming the nearest ones (argparse lists all)."""
    if word not in known:
        raise UsageError(f"unknown command {word!r}{did_you_mean(word, known)}; commands: {', '.join(known)}")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = None
    try:
        parser = make_parser()
        if not argv:  # a bare `designspace`: what it can do, as a usage error
            parser.print_help(sys.stderr)
            return 2
        if not argv[0].startswith("-"):
            _check_command(argv[0], parser.command_names)
        args = parser.parse_args(argv)
        command = args.command
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"designspace: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        more = "; finished work is kept: rerun the same command to resume" if command in RESUMABLE else ""
        print(f"designspace: interrupted{more}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
