"""Counter-based random numbers for `rand()` and `randn()` in neuron models: Philox4x32-10.

Philox (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011; Random123, the
generator of cuRAND, JAX and NumPy's `Philox` bit generator) turns a 128-bit counter and a
64-bit key into 128 random bits with no state in between, so a number depends only on what it
is keyed by, never on the order in which numbers are drawn, the batch split or the device.

A draw in a model is keyed (see docs/language.md, "Random numbers"):

- key = (seed mod 2**32, crc32 of the group's name), as each projection's stream is;
- counter = (neuron, tick, call site, sample): the neuron's flat index in its group, the tick
  since the run started (counting on over `reset=False`), the `rand()`/`randn()` call's number
  in its model (0, 1, ... in source order) and the sample's index in the batch.

One Philox block gives one draw; how its four 32-bit words become a number depends on the dtype,
the same rule in every backend (the CUDA C twin is in nndl.backends.cupy.kernels):

- uniform, float32: (w0 >> 8) * 2**-24; float64: ((w0 >> 5) * 2**26 + (w1 >> 6)) * 2**-53,
  both exact, in [0, 1);
- normal (Box-Muller, cosine branch): sqrt(-2 log(1 - u1)) * cos(2 pi u2), with u1 and u2 the
  uniforms of words (w0, w1) in float32 or of (w0, w1) and (w2, w3) in float64; 1 - u1 > 0.

`philox4x32` works on arrays of counters (NumPy or CuPy, uint32) and `philox4x32_scalar` on
one counter in plain integers (the OO backend's); the two are tested bit for bit against
Random123's known-answer vectors.
"""

from __future__ import annotations

import math
import zlib

import numpy as np

ROUNDS = 10
MULTIPLIERS = (0xD2511F53, 0xCD9E8D57)  # Random123's PHILOX_M4x32_0 and _1
KEY_STEPS = (0x9E3779B9, 0xBB67AE85)  # the key's bump between rounds (golden ratio, sqrt 3 - 1)
MASK = 0xFFFFFFFF
TWO_PI = 2.0 * math.pi


def stream_key(seed: int, group: str) -> tuple[int, int]:
    """The Philox key of a group's draws: (seed mod 2**32, crc32 of its name)."""
    return seed & MASK, zlib.crc32(group.encode("utf-8")) & MASK


def philox4x32(counter, key: tuple[int, int], xp=np) -> tuple:
    """Philox4x32-10 of four uint32 arrays (broadcast together) under a key of two words.

    Words 0 and 2 (the multiplied ones) and words 1 and 3 travel stacked, as two (2, ...)
    uint64 arrays of 32-bit values, so that each round is five whole-array operations."""
    words = xp.broadcast_arrays(*(xp.asarray(c, dtype=xp.uint32) for c in counter))
    even = xp.stack([words[0], words[2]]).astype(xp.uint64)
    odd = xp.stack([words[1], words[3]]).astype(xp.uint64)
    column = (2,) + (1,) * (even.ndim - 1)
    multipliers = xp.asarray(MULTIPLIERS, dtype=xp.uint64).reshape(column)
    keys = xp.asarray([[(k + r * step) & MASK for k, step in zip(key, KEY_STEPS)]
                       for r in range(ROUNDS)], dtype=xp.uint64)
    mask, shift = xp.uint64(MASK), xp.uint64(32)
    for r in range(ROUNDS):
        product = even * multipliers  # (c0 * M0, c2 * M1), exact in 64 bits
        # c0, c1, c2, c3 = hi(c2 M1) ^ c1 ^ k0, lo(c2 M1), hi(c0 M0) ^ c3 ^ k1, lo(c0 M0)
        even = (product >> shift)[::-1] ^ odd ^ keys[r].reshape(column)
        odd = (product & mask)[::-1]
    even, odd = even.astype(xp.uint32), odd.astype(xp.uint32)
    return even[0], odd[0], even[1], odd[1]


def philox4x32_scalar(counter: tuple[int, int, int, int],
                      key: tuple[int, int]) -> tuple[int, int, int, int]:
    """Philox4x32-10 of one counter, in Python integers: the OO backend's twin of philox4x32."""
    c0, c1, c2, c3 = (c & MASK for c in counter)
    k0, k1 = key
    for _ in range(ROUNDS):
        product0, product1 = c0 * MULTIPLIERS[0], c2 * MULTIPLIERS[1]
        c0, c1, c2, c3 = ((product1 >> 32) ^ c1 ^ k0, product1 & MASK,
                          (product0 >> 32) ^ c3 ^ k1, product0 & MASK)
        k0, k1 = (k0 + KEY_STEPS[0]) & MASK, (k1 + KEY_STEPS[1]) & MASK
    return c0, c1, c2, c3


# ---- 32-bit words -> numbers: the one rule of every backend (see the module docstring) ----


def uniform_of(first, second, dtype, xp=np):
    """Uniform in [0, 1) from words `first` (and `second`, float64 only), exact in `dtype`."""
    if np.dtype(dtype) == np.float32:
        return (first >> xp.uint32(8)).astype(xp.float32) * xp.float32(2.0 ** -24)
    high = (first >> xp.uint32(5)).astype(xp.float64) * 67108864.0
    return (high + (second >> xp.uint32(6)).astype(xp.float64)) * 2.0 ** -53


def normal_of(words: tuple, dtype, xp=np):
    """A standard normal by Box-Muller from one block's words (see the module docstring)."""
    w0, w1, w2, w3 = words
    if np.dtype(dtype) == np.float32:
        u1, u2 = uniform_of(w0, None, dtype, xp), uniform_of(w1, None, dtype, xp)
    else:
        u1, u2 = uniform_of(w0, w1, dtype, xp), uniform_of(w2, w3, dtype, xp)
    real = u1.dtype.type
    return xp.sqrt(real(-2.0) * xp.log(real(1.0) - u1)) * xp.cos(real(TWO_PI) * u2)


def uniform_scalar(words: tuple[int, ...], dtype: str) -> float:
    """uniform_of for one block, as a Python float."""
    if dtype == "float32":
        return (words[0] >> 8) * 2.0 ** -24
    return ((words[0] >> 5) * 67108864 + (words[1] >> 6)) * 2.0 ** -53


def normal_scalar(words: tuple[int, ...], dtype: str) -> float:
    """normal_of for one block, as a Python float (computed in double, as the OO backend is)."""
    if dtype == "float32":
        u1, u2 = uniform_scalar(words[:1], dtype), uniform_scalar(words[1:2], dtype)
    else:
        u1, u2 = uniform_scalar(words[:2], dtype), uniform_scalar(words[2:], dtype)
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(TWO_PI * u2)


# ---- a model tick's draws: what generated code calls as `noise.rand(SITE)` ----------------


class Noise:
    """The draws of one tick of a group's neurons, for whole arrays: `neurons` (n,) flat
    indices, `samples` their places in the batch; `rand(site)` and `randn(site)` are
    (batch, n) arrays in `dtype`."""

    def __init__(self, key: tuple[int, int], tick: int, neurons, batch: int, dtype, xp=np):
        self.key, self.tick, self.dtype, self.xp = key, tick, np.dtype(dtype), xp
        self.neurons = xp.asarray(neurons, dtype=xp.uint32)[None, :]
        self.samples = xp.arange(batch, dtype=xp.uint32)[:, None]

    @classmethod
    def pairs(cls, key: tuple[int, int], tick: int, neurons, samples, dtype, xp=np) -> Noise:
        """The draws of some (sample, neuron) pairs only, as (k,) arrays: the same numbers
        as the whole batch's at those places."""
        noise = cls(key, tick, neurons, 1, dtype, xp)
        noise.neurons = xp.asarray(neurons, dtype=xp.uint32)
        noise.samples = xp.asarray(samples, dtype=xp.uint32)
        return noise

    def block(self, site: int) -> tuple:
        counter = (self.neurons, self.tick, site, self.samples)
        return philox4x32(counter, self.key, self.xp)

    def rand(self, site: int):
        w0, w1, _, _ = self.block(site)
        return uniform_of(w0, w1, self.dtype, self.xp)

    def randn(self, site: int):
        return normal_of(self.block(site), self.dtype, self.xp)


class ScalarNoise:
    """The draws of one neuron at one tick of one sample, as Python floats (the OO backend)."""

    __slots__ = ("key", "neuron", "tick", "sample", "dtype")

    def __init__(self, key: tuple[int, int], neuron: int, tick: int, sample: int, dtype: str):
        self.key, self.neuron, self.tick, self.sample, self.dtype = \
            key, neuron, tick, sample, dtype

    def block(self, site: int) -> tuple[int, int, int, int]:
        return philox4x32_scalar((self.neuron, self.tick, site, self.sample), self.key)

    def rand(self, site: int) -> float:
        return uniform_scalar(self.block(site), self.dtype)

    def randn(self, site: int) -> float:
        return normal_scalar(self.block(site), self.dtype)
