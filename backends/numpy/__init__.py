"""The NumPy backend: vectorised over the batch, computing only the synapses that exist."""

from nndl import ir
from nndl.backends.codegen import render_module
from nndl.backends.numpy.lower import lower


def generate(network: ir.Network) -> str:
    return render_module(__name__, "module.py.j2", lower(network))
