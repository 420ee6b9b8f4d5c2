"""What interchange refuses, and the optional packages it needs."""

from __future__ import annotations

import importlib

from nndl.runtime.errors import RuntimeNNDLError

EXTRA_OF = {"nir": "nir", "onnx": "onnx", "onnxruntime": "onnx"}


class ExportError(RuntimeNNDLError):
    """A network that the target format cannot hold: the message names the group, connection
    or model and why."""


class ImportNIRError(RuntimeNNDLError):
    """A NIR graph that NNDL cannot read as a network: the message names the node and why."""


class InterchangeWarning(UserWarning):
    """Something exported or imported as asked, but not as it was (e.g. sparse as dense)."""


class MissingExtra(RuntimeNNDLError, ImportError):
    """An optional package that interchange needs is not installed."""


def require(package: str):
    """The module `package`, or MissingExtra saying how to install it."""
    try:
        return importlib.import_module(package)
    except ImportError:
        extra = EXTRA_OF.get(package, package)
        raise MissingExtra(f"this needs the `{package}` package: pip install 'nndl[{extra}]' "
                           f"(or pip install {package})") from None


def neuron_by_neuron(groups) -> str:
    """The start of a refusal of groups whose delay-0 synapses run among their own neurons."""
    names = ", ".join(f"`{g}`" for g in groups)
    if len(groups) == 1:
        return f"group {names} feeds its own neurons without a delay"
    return f"groups {names} feed their own neurons without a delay"
