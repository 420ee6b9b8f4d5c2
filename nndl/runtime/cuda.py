"""What generated CuPy modules share: their CUDA C compiled once per dtype, launches, and copies
between the host and the device.

Only generated `cupy` modules import this, and they import cupy first: `import nndl` never
needs cupy. Kernels take one thread per element (see backends/cupy/kernels.py).
"""

from __future__ import annotations

import numpy as np

THREADS = 256  # per block

TYPES = {"float32": "float", "float64": "double"}


class Kernels:
    """A network's CUDA C source, compiled for a dtype on first use and then kept (CuPy also
    caches the binary on disk, so a new process skips the compiler)."""

    def __init__(self, cupy, source: str):
        self.cupy, self.source = cupy, source
        self.modules: dict[str, object] = {}
        self.functions: dict[tuple[str, str], object] = {}
        self.constants: dict[tuple[float, str], object] = {}  # model parameters, on the device

    def function(self, name: str, dtype):
        dtype = np.dtype(dtype).name
        found = self.functions.get((name, dtype))
        if found is None:
            module = self.modules.get(dtype)
            if module is None:
                code = f"typedef {TYPES[dtype]} real;\n{self.source}"
                module = self.modules[dtype] = self.cupy.RawModule(code=code)
            found = self.functions[name, dtype] = module.get_function(name)
        return found

    def launch(self, name: str, threads: int, dtype, *args) -> None:
        """Run kernel `name` on `threads` threads (one per element it writes)."""
        if threads <= 0:
            return
        blocks = (threads + THREADS - 1) // THREADS
        self.function(name, dtype)((blocks,), (THREADS,), args)

    def map(self, name: str, args: tuple, arrays: int, at: int, results: int, noise=None,
            held: bool = False):
        """An elementwise kernel over same-shaped arrays: `args` holds `arrays` arrays with
        the scalars from position `at`; returns its `results` new arrays. A kernel that draws
        random numbers gets `noise` (a nndl.runtime.philox.Noise) as its columns' neurons, the
        key and the tick (backends/cupy/kernels.py, NOISE_PARAMS). A `held` kernel (a neuron
        model's) takes each scalar as an array and its length: a number (one value) or a
        value per column (per neuron: see backends/cupy/kernels.py, HELD)."""
        cp = self.cupy
        scalars = args[at:at + len(args) - arrays]
        inputs = [cp.ascontiguousarray(a) for a in (*args[:at], *args[at + len(scalars):])]
        dtype = inputs[0].dtype
        outputs = [cp.empty(inputs[0].shape, dtype=dtype) for _ in range(results)]
        if held:
            scalars = [part for s in scalars for part in self.held(s, dtype)]
        else:
            scalars = [dtype.type(s) for s in scalars]
        if noise is not None:
            neurons = cp.ascontiguousarray(noise.neurons.reshape(-1).astype(cp.int64))
            scalars += [np.int64(neurons.size), neurons,
                        *(np.int64(k) for k in noise.key), np.int64(noise.tick)]
        size = inputs[0].size
        self.launch(name, size, dtype, np.int64(size), *inputs, *scalars, *outputs)
        return tuple(outputs)

    def visit(self, name: str, args: tuple, reads: int, states: int, draws: bool,
              fed: int = 0, arrays: int = 3) -> tuple:
        """A rule block's kernel (backends/cupy/rule_kernels.py) called as the NumPy module's
        function: `args` are (w, pre, post, *reads, *states, *params, *fed[, noise]), one
        element per visit in each array (`fed`: the modulators, `target`, and the ticks since
        the last event of a rule with lazy traces); returns (w, *states), new arrays. A read is
        an array or one number for all (held); the draws (a nndl.runtime.philox.Noise) give
        each visit's synapse and sample. `bias = ...` takes (bias, post, *reads, *params,
        *fed): `arrays` 2 before the reads."""
        cp = self.cupy
        noise, args = (args[-1], args[:-1]) if draws else (None, args)
        fed, args = args[len(args) - fed:], args[:len(args) - fed]
        first = arrays + reads  # where the states start
        inputs = [cp.ascontiguousarray(cp.asarray(a))
                  for a in (*args[:arrays], *args[first:first + states], *fed)]
        dtype, shape = inputs[0].dtype, inputs[0].shape
        scalars = [part for value in args[arrays:first] for part in self.held(value, dtype)]
        scalars += [dtype.type(value) for value in args[first + states:]]
        if noise is not None:  # each visit's counters, (synapse, sample), one by one
            scalars += [cp.ascontiguousarray(cp.broadcast_to(c.astype(cp.int64), shape))
                        for c in (noise.neurons, noise.samples)]
            scalars += [*(np.int64(k) for k in noise.key), np.int64(noise.tick)]
        outputs = [cp.empty(shape, dtype=dtype) for _ in range(1 + states)]
        size = inputs[0].size
        self.launch(name, size, dtype, np.int64(size), *inputs, *scalars, *outputs)
        return tuple(outputs)

    def held(self, value, dtype) -> tuple:
        """A model parameter as a kernel takes it: (values on the device, their number). A
        number is copied to the device once and kept."""
        cp = self.cupy
        if isinstance(value, (int, float, np.floating)):
            key = (float(value), np.dtype(dtype).name)
            if key not in self.constants:
                self.constants[key] = cp.full((1,), value, dtype=dtype)
            values = self.constants[key]
        else:
            values = cp.ascontiguousarray(cp.asarray(value).reshape(-1).astype(dtype, copy=False))
        return values, np.int64(values.size)


def to_device(cupy, value):
    """Arrays in nested tuples, lists and dicts copied to the device, the nesting kept."""
    if isinstance(value, np.ndarray):
        return cupy.asarray(value)
    if isinstance(value, dict):
        return {key: to_device(cupy, v) for key, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(to_device(cupy, v) for v in value)
    return value
