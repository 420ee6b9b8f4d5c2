"""Golden diagnostics: what `nndlc check` prints for each mistake in tests/golden/diagnostics.

After a deliberate change to a message, run `python tests/golden/regenerate.py` and read the diff
of the `.expected` files before committing it.
"""

import importlib.util
import re
from pathlib import Path

import pytest

from nndl.commands.cli import main

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "tests" / "golden" / "diagnostics"
NAMES = sorted(p.stem for p in FOLDER.glob("*.nndl"))
# The first line of every diagnostic: `file:line:col: error: message` (no position for a file as a
# whole); the source line, caret, notes and help follow it indented.
HEAD = re.compile(r"tests/golden/diagnostics/\w+\.nndl(:\d+:\d+)?: (error|warning): \S")


def _load_regenerate():
    spec = importlib.util.spec_from_file_location("regenerate", ROOT / "tests/golden/regenerate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


regenerate = _load_regenerate()


@pytest.fixture(autouse=True)
def at_repository_root(monkeypatch):
    monkeypatch.chdir(ROOT)  # the goldens name their files relative to the root


def case(name: str) -> Path:
    return Path("tests", "golden", "diagnostics", f"{name}.nndl")


def golden(name: str) -> str:
    return (FOLDER / f"{name}.expected").read_text(encoding="utf-8")


def test_there_are_at_least_twenty_cases():
    assert len(NAMES) >= 20


def test_every_golden_has_its_case():
    assert sorted(p.stem for p in FOLDER.glob("*.expected")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_diagnostics_match_the_golden(name):
    diags = regenerate.diagnose(case(name))
    assert diags.errors, f"{name}.nndl should contain a mistake"
    assert diags.render() == golden(name)


@pytest.mark.parametrize("name", NAMES)
def test_every_diagnostic_starts_with_file_line_column(name):
    heads = [line for line in golden(name).splitlines() if not line.startswith(" ")]
    assert heads and all(HEAD.match(line) for line in heads), heads


@pytest.mark.parametrize("name", NAMES)
def test_nndlc_check_prints_the_golden_and_exits_1(name, capsys):
    assert main(["check", case(name).as_posix()]) == 1
    captured = capsys.readouterr()
    assert captured.err == golden(name)
    assert captured.out == ""
