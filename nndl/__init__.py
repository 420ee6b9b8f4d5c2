"""NNDL: declare a network neuron by neuron; compile it to OO Python, NumPy or CuPy.

    import nndl
    mod = nndl.compile("digits.nndl", backend="numpy")
    net = mod.Network(seed=0)
    out = net.run(image=X)
"""

import importlib.abc
import importlib.util
import sys
from pathlib import Path


class _CheckoutStages(importlib.abc.MetaPathFinder):
    """In a source checkout, grammar/, backends/ and editors/ sit beside this folder; installed,
    they are subpackages of nndl (pyproject's package-dir). Mapping them the same way here lets
    `import nndl` from the repository's root, where Python finds this folder first, work as the
    installed package does."""

    def __init__(self, root: Path):
        self.folders = {f"nndl.{name}": root / name for name in ("grammar", "backends", "editors")}

    def find_spec(self, fullname, path=None, target=None):
        folder = self.folders.get(fullname)
        if folder is None or not (folder / "__init__.py").is_file():
            return None
        return importlib.util.spec_from_file_location(
            fullname, folder / "__init__.py", submodule_search_locations=[str(folder)])


if not (Path(__file__).parent / "backends").is_dir():  # never so once installed
    sys.meta_path.append(_CheckoutStages(Path(__file__).resolve().parent.parent))

from nndl.diagnostics import NNDLError  # noqa: E402  (after the stages above)
from nndl.runtime.errors import InputError, RuntimeNNDLError, WeightFileError  # noqa: E402
from nndl.version import __version__  # noqa: E402

__all__ = ["compile", "sweep", "NNDLError", "InputError", "RuntimeNNDLError", "WeightFileError",
           "__version__"]


def __getattr__(name: str):
    # `compile` on first use: importing `nndl` stays light (no numpy, no lark), so that
    # `nndlc` handles Ctrl-C from its first instant (nndl.commands.launch)
    if name == "compile":
        from nndl.compiler import compile

        return compile
    if name == "sweep":  # Dask is imported only when a sweep runs on it
        from nndl.commands.sweep import sweep

        return sweep
    raise AttributeError(f"module 'nndl' has no attribute {name!r}")
