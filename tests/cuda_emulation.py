"""A stand-in for CuPy that runs the CuPy backend's generated modules on the CPU, so that their
numbers can be checked on machines without a GPU.

Arrays are NumPy arrays of a subclass (`DeviceArray`) that refuses to mix with host arrays in
arithmetic, as CuPy does. Kernels are the module's own CUDA C, built with g++ as host C++ after
a small prelude (the kernel qualifiers, `blockIdx`/`threadIdx`/`blockDim` set by a host loop
over the launch's blocks and threads, `atomicAdd` as a plain add: threads run one at a time),
loaded with ctypes, and launched with the module's own grid and block sizes. Each launch checks
its arguments against the kernel's C signature: dtype, contiguity, scalar types.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.machinery
import os
import re
import subprocess
import tempfile
import types
from pathlib import Path

import numpy as np

HOST_PRELUDE = """
#define NNDL_HOST
#include <cmath>
#include <limits>
using namespace std;
#define __global__
#define __device__ static
struct nndl_dim3 { unsigned int x, y, z; };
static nndl_dim3 blockIdx, threadIdx, blockDim;
#define NNDL_INF (numeric_limits<real>::infinity())
#define NNDL_NAN (numeric_limits<real>::quiet_NaN())
template <typename T> static T atomicAdd(T* at, T value) { T old = *at; *at += value; return old; }
"""

KERNEL = re.compile(r'extern "C" __global__ void (\w+)\(([^)]*)\)')
C_TYPES = {"real": None, "long long": ctypes.c_longlong}


def signatures(source: str) -> dict[str, list[tuple[str, str]]]:
    """Each kernel's parameters as (C type, name)."""
    found = {}
    for name, params in KERNEL.findall(source):
        found[name] = [tuple(p.strip().rsplit(" ", 1)) for p in params.split(",")]
    return found


def _launcher(name: str, params: list[tuple[str, str]]) -> str:
    declared = ", ".join(f"{t} {n}" for t, n in params)
    names = ", ".join(n for _, n in params)
    return (f'extern "C" void launch_{name}(unsigned int grid, unsigned int block, {declared}) {{\n'
            "    blockDim.x = block;\n"
            "    for (unsigned int g = 0; g < grid; ++g)\n"
            "        for (unsigned int t = 0; t < block; ++t) {\n"
            f"            blockIdx.x = g; threadIdx.x = t; {name}({names});\n"
            "        }\n}\n")


def host_source(code: str) -> str:
    """A CuPy module's code (`typedef ... real;` first) as host C++ with a launcher per kernel."""
    typedef, _, rest = code.partition("\n")
    launchers = [_launcher(name, params) for name, params in signatures(rest).items()]
    return "\n".join([typedef, HOST_PRELUDE, rest, *launchers])


def _cache() -> Path:
    default = Path(tempfile.gettempdir()) / f"nndl-cuda-emulation-{os.getuid()}"
    folder = Path(os.environ.get("NNDL_EMULATION_CACHE", default))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


_LOADED: dict[str, ctypes.CDLL] = {}  # code -> its library, loaded once per process


def build(code: str) -> ctypes.CDLL:
    """The code built as a shared library (kept by its hash: each source builds once) and
    loaded (once per process)."""
    if code not in _LOADED:
        library = _LOADED[code] = _build(code)
        for name in signatures(code):
            getattr(library, f"launch_{name}")  # looked up now; ctypes keeps it
    return _LOADED[code]


def preload(module_source: str, dtype: str = "float64") -> None:
    """Build and load a generated module's kernels now (tests that watch what a module does
    while it runs see no compiler or library loading there)."""
    code = module_source.split("CUDA = '''", 1)[1].split("'''", 1)[0]  # as the module has it
    build(f"typedef {'double' if dtype == 'float64' else 'float'} real;\n{code}")


def _build(code: str) -> ctypes.CDLL:
    source = host_source(code)
    key = hashlib.sha256(source.encode()).hexdigest()[:24]
    library = _cache() / f"k_{key}.so"
    if not library.exists():
        cpp = _cache() / f"k_{key}.{os.getpid()}.cpp"  # processes building at once: their own
        cpp.write_text(source)
        partial = library.with_suffix(f".{os.getpid()}.tmp")
        done = subprocess.run(["g++", "-O1", "-shared", "-fPIC", "-o", str(partial), str(cpp)],
                              capture_output=True, text=True)
        assert done.returncode == 0, f"g++ cannot build {cpp}:\n{done.stderr}"
        os.replace(partial, library)
        cpp.unlink()
    return ctypes.CDLL(str(library))


class DeviceArray(np.ndarray):
    """An array "on the device": arithmetic with a host array (not a scalar) is refused."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        for x in (*inputs, *kwargs.get("out", ())):
            if type(x) is np.ndarray and x.ndim > 0:
                raise TypeError(f"{ufunc.__name__}: a host array mixed with device arrays")
        plain = [x.view(np.ndarray) if isinstance(x, DeviceArray) else x for x in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(x.view(np.ndarray) for x in kwargs["out"])
        result = getattr(ufunc, method)(*plain, **kwargs)
        return _device(result)

    def __setitem__(self, key, value):
        if type(value) is np.ndarray and value.ndim > 0:
            raise TypeError("a host array written into a device array")
        super().__setitem__(key, value)


def _device(value):
    if isinstance(value, np.ndarray):
        return value.view(DeviceArray)
    if isinstance(value, tuple):
        return tuple(_device(v) for v in value)
    return value


class Kernel:
    def __init__(self, library: ctypes.CDLL, name: str, params: list[tuple[str, str]],
                 dtype: np.dtype):
        self.name, self.params, self.dtype = name, params, dtype
        self.function = getattr(library, f"launch_{name}")
        real = ctypes.c_float if dtype == np.float32 else ctypes.c_double
        self.function.argtypes = [ctypes.c_uint, ctypes.c_uint] + [
            ctypes.c_void_p if t.endswith("*") else (real if t == "real" else C_TYPES[t])
            for t, _ in params]
        self.function.restype = None

    def __call__(self, grid, block, args):
        assert len(grid) == 1 and len(block) == 1, "the kernels are one-dimensional"
        assert len(args) == len(self.params), f"{self.name}: {len(args)} arguments"
        converted = [self._argument(a, t, n) for a, (t, n) in zip(args, self.params)]
        self.function(int(grid[0]), int(block[0]), *converted)

    def _argument(self, value, c_type, name):
        where = f"kernel {self.name}, argument {name}"
        if c_type.endswith("*"):
            want = np.int64 if c_type.replace("const ", "").startswith("long long") \
                else self.dtype
            assert isinstance(value, DeviceArray), f"{where}: not a device array"
            assert value.dtype == want, f"{where}: {value.dtype}, not {np.dtype(want)}"
            assert value.flags.c_contiguous, f"{where}: not contiguous"
            return value.ctypes.data
        if c_type == "real":
            assert type(value) is self.dtype.type, f"{where}: {type(value)}, not {self.dtype}"
            return float(value)
        assert type(value) is np.int64, f"{where}: {type(value)}, not int64"
        return int(value)


class RawModule:
    def __init__(self, code: str, **options):
        self.code = code
        self.dtype = np.dtype({"float": np.float32, "double": np.float64}[
            code.split("\n", 1)[0].split()[1]])
        self.library = build(code)
        self.params = signatures(code)

    def get_function(self, name: str) -> Kernel:
        return Kernel(self.library, name, self.params[name], self.dtype)


def asnumpy(x):
    return np.array(x, copy=True).view(np.ndarray)


def asarray(x, dtype=None):
    return _device(np.array(x, dtype=dtype, copy=True))


def fake_cupy() -> types.ModuleType:
    """A module that stands in for `cupy`: NumPy's functions, returning device arrays."""
    module = types.ModuleType("cupy")
    module.__spec__ = importlib.machinery.ModuleSpec("cupy", None)  # find_spec finds it
    module.RawModule, module.asnumpy, module.asarray = RawModule, asnumpy, asarray
    module.ndarray = DeviceArray

    def wrap(function):
        def on_device(*args, **kwargs):
            plain = [a.view(np.ndarray) if isinstance(a, DeviceArray) else a for a in args]
            return _device(function(*plain, **kwargs))
        return on_device

    for name in ("zeros", "zeros_like", "empty", "empty_like", "full", "full_like", "tile",
                 "stack", "ascontiguousarray", "bincount", "exp", "concatenate", "ones",
                 "ones_like", "maximum", "minimum", "where", "arange", "abs", "broadcast_to"):
        setattr(module, name, wrap(getattr(np, name)))
    module.float32, module.float64, module.int64 = np.float32, np.float64, np.int64
    module.uint32 = np.uint32  # the counters of rand() (nndl.runtime.philox.Noise)
    return module
