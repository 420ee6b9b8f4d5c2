"""The NumPy backend: vectorised over the batch, computing only the synapses that exist."""

from nndl.backends.codegen import render_module
from nndl.backends.numpy.lower import lower

from nndl import ir


def generate(network: ir.Network) -> str:
    return render_module(__name__, "module.py.j2", lower(network, cpu=True))
