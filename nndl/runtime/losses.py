"""Losses with PyTorch's definitions, and their gradients, for every backend's training.

`mse` is the mean over all elements of (y - t)^2. `cross_entropy` is the mean over the batch of
-log softmax(z)[target], with targets as class indices (batch,) or probabilities (batch, n);
`z` is a softmax group's net input (so the loss is computed stably, never through log(softmax))
or any other group's output taken as logits. Each returns (loss, d loss / d input).
"""

from __future__ import annotations

import numpy as np

from nndl.runtime.errors import InputError


def mse(y: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    if y.shape != target.shape:
        raise InputError(f"mse needs targets of shape {y.shape}; got {target.shape}")
    difference = y - target
    return float(np.mean(difference * difference)), 2.0 * difference / difference.size


def log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def cross_entropy(z: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """From logits `z` (batch, n); `target` class indices (batch,) or probabilities (batch, n)."""
    batch, n = z.shape
    probabilities = _target_distribution(target, batch, n, z.dtype)
    logp = log_softmax(z)
    loss = -float(np.sum(probabilities * logp)) / batch
    return loss, (np.exp(logp) * probabilities.sum(axis=-1, keepdims=True) - probabilities) / batch


def _target_distribution(target: np.ndarray, batch: int, n: int, dtype) -> np.ndarray:
    target = np.asarray(target)
    if target.shape == (batch,):
        if target.dtype.kind not in "iu" or target.min(initial=0) < 0 or \
                target.max(initial=0) >= n:
            raise InputError(f"cross_entropy class indices must be whole numbers from 0 to "
                             f"{n - 1}; got {target.dtype} values from {target.min()} to "
                             f"{target.max()}")
        return np.eye(n, dtype=dtype)[target]
    if target.shape == (batch, n):
        return target.astype(dtype, copy=False)
    raise InputError(f"cross_entropy needs class indices of shape ({batch},) or probabilities "
                     f"of shape ({batch}, {n}); got {target.shape}")
