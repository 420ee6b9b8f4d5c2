"""NNDL: declare a network neuron by neuron; compile it to OO Python, NumPy or CuPy.

    import nndl
    mod = nndl.compile("digits.nndl", backend="numpy")
    net = mod.Network(seed=0)
    out = net.run(image=X)
"""

from nndl.diagnostics import NNDLError
from nndl.runtime.errors import InputError, RuntimeNNDLError, WeightFileError
from nndl.version import __version__

__all__ = ["compile", "NNDLError", "InputError", "RuntimeNNDLError", "WeightFileError",
           "__version__"]


def __getattr__(name: str):
    # `compile` on first use: importing `nndl` stays light (no numpy, no lark), so that
    # `nndlc` handles Ctrl-C from its first instant (nndl.launch)
    if name == "compile":
        from nndl.compiler import compile

        return compile
    raise AttributeError(f"module 'nndl' has no attribute {name!r}")
