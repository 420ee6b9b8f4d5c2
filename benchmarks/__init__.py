"""NNDL's performance benchmarks against the peers a user would pick instead (see README.md and
RESULTS.md): `python -m benchmarks [--quick]`.

Importing the package pins NumPy's BLAS and PyTorch to two threads before either is imported,
and makes idle OpenMP threads sleep (OMP_WAIT_POLICY=PASSIVE): otherwise PyTorch's spinning
threads would steal the cores from the NumPy call timed right after them.
"""

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "2")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
