"""The command line as a new user meets it: --version, usage on a bare command, one error prefix,
suggestions for near misses, defaults and a description in every --help, what `sample --out`
wrote, and `train`'s progress within an epoch."""
import argparse
import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios

import pytest

import designspace
from designspace.cli import COMMANDS, main, make_parser

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(*args, **kw):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "designspace", *args], capture_output=True, text=True,
                          timeout=300, env=env, **kw)


def test_version():
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"designspace {designspace.__version__}"


def test_bare_command_prints_usage_and_exits_2(capsys):
    assert main([]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("usage: designspace")
    for name in COMMANDS:
        assert f"    {name}" in captured.err, name
    assert "error: designspace" not in captured.err


@pytest.mark.parametrize("argv, needle", [
    (["analyze"], "designspace: error: analyze: the following arguments are required: SOURCE"),
    (["analyze", "x.db", "--normalize", "acts"], "designspace: error: analyze: argument --normalize"),
    (["sample", "-n", "many"], "designspace: error: sample: argument -n"),
    (["--bogus"], "designspace: error: "),
])
def test_one_error_prefix(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(needle), err
    assert err[0].count("designspace") == 1, err  # not `designspace: error: designspace: ...`


@pytest.mark.parametrize("argv, suggestion", [
    (["analyse", "results.db"], "did you mean analyze?"),
    (["sweeep", "x.yaml"], "did you mean sweep?"),
    (["sample", "--space", "RegNetZ"], "RegNetX"),
    (["sample", "--space", "AnyNetXF", "-n", "2"], "AnyNetXE"),
    (["sample", "--space", "AnyNetXE+cps", "-n", "2"], "did you mean csp?"),
    (["spaces", "--show", "RegNetX-wm3"], "RegNetX-wm2"),
])
def test_near_misses_get_a_suggestion(argv, suggestion, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "did you mean" in err[0] and suggestion in err[0], err


def test_far_misses_get_no_suggestion(capsys):
    assert main(["frobnicate"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'frobnicate'" in err and "did you mean" not in err and "analyze" in err


def subparsers():
    parser = make_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return action.choices


@pytest.mark.parametrize("name", COMMANDS)
def test_every_help_has_a_description_and_its_defaults(name):
    sub = subparsers()[name]
    assert sub.description and len(sub.description) > 120, f"{name} has no description paragraph"
    text = sub.format_help()
    assert sub.description.split()[0] in text
    assert "(default: None)" not in text and "(default: False)" not in text
    for action in sub._actions:
        default = action.default
        if not action.option_strings or default is None or default is False or default == [] or \
                default is argparse.SUPPRESS:
            continue
        shown = sub._get_formatter()._get_help_string(action)
        assert "default" in shown.lower(), f"{name} {action.option_strings[0]} does not state its default {default!r}"


def test_train_help_states_the_recipe_defaults():
    from designspace.train import Recipe

    sub = subparsers()["train"]
    for flag, value in (("--epochs", f"{Recipe.epochs:g}"), ("--lr", f"{Recipe.lr:g}"),
                        ("--batch-size", str(Recipe.batch_size)), ("--seed", "0")):
        (action,) = [a for a in sub._actions if flag in a.option_strings]
        shown = sub._get_formatter()._expand_help(action)
        assert f"(default: {value})" in shown, (flag, shown)
    (size,) = [a for a in sub._actions if "--train-size" in a.option_strings]
    assert "5000" in size.help  # the help says what a small subset costs


def test_deploy_help_describes_the_checkpoint_without_pointing_at_itself():
    text = subparsers()["deploy"].format_help()
    assert "deploy -h" not in text
    assert "state_dict" in text and "spec" in text and "regime" in text


def test_sample_out_names_what_it_wrote(tmp_path):
    out = tmp_path / "specs.parquet"
    proc = run_cli("sample", "--space", "RegNetY", "-n", "7", "--regime", "cifar", "--flops", "20M:40M",
                   "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("wrote 7 models of RegNetY (cifar") and line.endswith(str(out)) and out.exists()
    rows = run_cli("sample", "--space", "RegNetY", "-n", "3")  # to stdout: rows only, no message
    assert rows.returncode == 0 and rows.stderr == "" and len(rows.stdout.splitlines()) == 3


def test_train_reports_progress_within_an_epoch(tmp_path):
    """On a terminal `train` draws a bar over the steps with the time left; in a pipe it does not."""
    spec = tmp_path / "row.jsonl"
    assert main(["sample", "--space", "RegNetX", "-n", "1", "--regime", "fashion-mnist", "--flops", "2M:4M",
                 "--out", str(spec)]) == 0
    args = [sys.executable, "-m", "designspace", "train", str(spec), "--data", "synthetic", "--epochs", "2",
            "--train-size", "512", "--test-size", "128", "--batch-size", "8", "--threads", "1"]
    # 64 steps an epoch (the synthetic set's 512 images in batches of 8; 16 steps of 32 could finish
    # between two of the bar's redraws, every 0.5 s): the bar is drawn within the first epoch
    env = dict(os.environ, PYTHONPATH=ROOT)
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))  # a 100 x 30 terminal
    try:
        proc = subprocess.Popen(args, stdin=follower, stdout=follower, stderr=follower, env=env, cwd=str(tmp_path))
        os.close(follower)
        chunks = []
        while True:
            try:
                data = os.read(leader, 4096)
            except OSError:  # the terminal closed: the process ended
                break
            if not data:
                break
            chunks.append(data)
        proc.wait(timeout=300)
    finally:
        os.close(leader)
    screen = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0, screen[-2000:]
    updates = [u for u in screen.replace("\n", "\r").split("\r") if u.startswith("training:")]
    steps = [u.split("|")[-1].split()[0].split("/") for u in updates]  # "k/total"
    total = steps[-1][1]
    assert steps[-1][0] == total and int(total) == 128, updates
    assert any(0 < int(k) < int(total) // 2 for k, _ in steps), updates  # drawn within the first epoch
    assert any("<" in u and "step/s" in u for u in updates)  # [elapsed<left, rate]
    assert screen.count("epoch 1:") == 1 and screen.count("epoch 2:") == 1
    piped = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300, cwd=str(tmp_path))
    assert piped.returncode == 0 and "training:" not in piped.stderr and "epoch 2:" in piped.stdout


def test_train_on_step_counts_every_step():
    """The trainer's progress hook: called after every step with (done, total)."""
    from designspace.data import load_dataset
    from designspace.spaces import get_space
    from designspace.train import train

    spec = get_space("AnyNetXA").sample(1, seed=0, flops=(2e6, 4e6), regime="fashion-mnist")[0]
    seen = []
    metrics = train(spec, {"epochs": 1.5, "batch_size": 32, "train_size": 256, "test_size": 64},
                    load_dataset("synthetic"), regime="fashion-mnist", threads=1,
                    on_step=lambda done, total: seen.append((done, total)))
    assert metrics["status"] == "done" and metrics["steps"] == 12
    assert seen == [(k, 12) for k in range(1, 13)]
