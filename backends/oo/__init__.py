"""The object-oriented backend: Neuron and Synapse objects, the executable specification."""

from nndl import ir
from nndl.backends.codegen import render_module
from nndl.backends.oo.lower import lower


def generate(network: ir.Network) -> str:
    return render_module(__name__, "module.py.j2", lower(network))
