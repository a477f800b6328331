"""The ``meditron`` command: version, every stage's --help with a working example, ``python -m meditron``."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from meditron import __version__
from meditron.cli import app

runner = CliRunner()
STAGES = ["corpus", "pretrain", "finetune", "eval", "export", "serve", "quickstart"]


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"meditron {__version__}"


@pytest.mark.parametrize("stage", STAGES)
def test_help_shows_an_example(stage):
    result = runner.invoke(app, [stage, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Example:" in result.output or "Example" in result.output
    assert "meditron" in result.output


def test_corpus_subcommands_have_examples():
    for sub in ("run", "inspect"):
        result = runner.invoke(app, ["corpus", sub, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0
        assert "Example:" in result.output


def test_python_dash_m_works():
    out = subprocess.run([sys.executable, "-m", "meditron", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"meditron {__version__}"


def test_config_error_is_one_clear_line_not_a_traceback():
    out = subprocess.run(
        [sys.executable, "-m", "meditron", "pretrain", "--config", "quickstart-cpu", "--set", "train.lrr=1"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2
    assert "unknown key 'train.lrr'" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("order", [("medqa4", "pubmedqa,nosuch"), ("nosuch", "medqa4")])
def test_repeated_benchmarks_option_keeps_every_occurrence(order):
    """`--benchmarks a --benchmarks b,c` means a, b and c: a bad name in either occurrence is reported, so neither is
    silently dropped (typer alone keeps only the last occurrence of a plain option)."""
    args = [sys.executable, "-m", "meditron", "eval", "--model", "m", "--data-dir", "d"]
    for value in order:
        args += ["--benchmarks", value]
    out = subprocess.run(args, capture_output=True, text=True)
    assert out.returncode == 2, out.stderr
    index = {("medqa4", "pubmedqa,nosuch"): 2, ("nosuch", "medqa4"): 0}[order]
    assert f"key 'eval.benchmarks.{index}'" in out.stderr and "(got 'nosuch')" in out.stderr
