"""Rewrite every diagnostics golden from the current compiler: `python tests/golden/regenerate.py`.

Each `diagnostics/NAME.nndl` holds one user mistake (or a few, where the point is reporting several
at once); `NAME.expected` holds exactly what `nndlc check tests/golden/diagnostics/NAME.nndl` writes
to stderr when run from the repository root. The script works from the root wherever it is started,
so the paths in the goldens are the same on every machine. It writes only the files that changed,
removes goldens whose case is gone, and lists both.

Read the diff before committing it: a golden of a bad message is a bug, not a fixture.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from nndl.commands.check import check_source
from nndl.diagnostics import Diagnostics, NNDLError
from nndl.frontend import read_source

ROOT = Path(__file__).resolve().parents[2]
CASES = Path("tests", "golden", "diagnostics")  # relative to ROOT, as the goldens name it


def diagnose(case: Path) -> Diagnostics:
    """Every diagnostic `nndlc check` gives for `case`, a path relative to the repository root."""
    try:
        _, diags = check_source(read_source(case), case.as_posix())
    except NNDLError as e:  # the file is not even text: reading it reports that
        diags = e.diagnostics
    return diags


def main() -> int:
    os.chdir(ROOT)
    changed = []
    for case in sorted(CASES.glob("*.nndl")):
        golden = case.with_suffix(".expected")
        text = diagnose(case).render()
        if not golden.exists() or golden.read_text(encoding="utf-8") != text:
            golden.write_text(text, encoding="utf-8", newline="\n")
            changed.append(f"wrote   {golden.as_posix()}")
    for golden in sorted(CASES.glob("*.expected")):
        if not golden.with_suffix(".nndl").exists():
            golden.unlink()
            changed.append(f"removed {golden.as_posix()} (its case is gone)")
    print("\n".join(changed) or "every golden is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
