"""The CuPy backend: the NumPy backend's tick on the GPU, with generated CUDA kernels."""

from nndl.backends.codegen import render_module
from nndl.backends.cupy.lower import lower

from nndl import ir


def generate(network: ir.Network) -> str:
    return render_module(__name__, "module.py.j2", lower(network))
