"""Every example compiles with every backend and the backends agree (`nndlc check` and `equiv`)."""

import runpy
import sys
from pathlib import Path

import pytest

from nndl.commands.cli import main

ROOT = Path(__file__).parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.nndl"))
SCRIPTS = sorted((ROOT / "examples").glob("*.py"))


def test_there_are_examples():
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_checks(path, capsys):
    assert main(["check", str(path)]) == 0
    err = capsys.readouterr().err
    assert "error" not in err
    # a warning is allowed only where the example's own comment explains it
    assert not err or "warns" in path.read_text()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_backends_agree(path, capsys):
    assert main(["equiv", str(path), "--ticks", "2"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("the backends agree")


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_example_script_runs(path, monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)  # scripts must find their .nndl files wherever they run from
    monkeypatch.setattr(sys, "argv", [str(path)])
    runpy.run_path(str(path), run_name="__main__")
    assert "agree" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["delay_line", "reservoir", "bursting"])
def test_examples_with_time_agree_over_100_ticks(name, capsys):
    path = ROOT / "examples" / f"{name}.nndl"
    assert main(["equiv", str(path), "--ticks", "100", "--batch", "2"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("the backends agree")
