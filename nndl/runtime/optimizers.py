"""Optimisers with PyTorch's update rules, over a dict of parameter arrays updated in place.

`sgd(lr, momentum=0, weight_decay=0)`: g += weight_decay * p; v = momentum * v + g;
p -= lr * v.
`adam(lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0)`: g += weight_decay * p (an L2
penalty, as torch.optim.Adam); m and v are running averages of g and g^2, corrected for their
start at zero; p -= lr * m_hat / (sqrt(v_hat) + eps).
`adamw(..., weight_decay=0.01)`: Adam with the decay decoupled from the gradient (Loshchilov &
Hutter, as torch.optim.AdamW): p -= lr * weight_decay * p before Adam's step, so the decay is
not rescaled by v_hat.
Every trainable array decays (weights and biases alike), as in PyTorch's default.
Their state is plain arrays (`state()` / `load_state()`), so a checkpoint can hold it.
"""

from __future__ import annotations

import numpy as np


class SGD:
    def __init__(self, lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.velocity: dict[str, np.ndarray] = {}

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        for key, g in grads.items():
            if self.weight_decay:
                g = g + self.weight_decay * params[key]
            if self.momentum:
                v = self.velocity.get(key)
                g = g if v is None else self.momentum * v + g  # PyTorch: v starts at g
                self.velocity[key] = g
            params[key] -= self.lr * g

    def state(self) -> dict[str, np.ndarray]:
        return {f"velocity.{key}": v for key, v in self.velocity.items()}

    def remap(self, key: str, source: np.ndarray) -> None:
        """The synapses of `key` changed: entry i is old entry source[i] (new: -1)."""
        _remap(self.velocity, key, source)

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self.velocity = {key.removeprefix("velocity."): np.array(v) for key, v in state.items()}


class Adam:
    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, weight_decay: float = 0.0, decoupled: bool = False):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.weight_decay, self.decoupled = weight_decay, decoupled  # decoupled: AdamW
        self.steps = 0
        self.m: dict[str, np.ndarray] = {}
        self.v: dict[str, np.ndarray] = {}

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.steps += 1
        first = 1.0 - self.beta1 ** self.steps  # bias corrections for the zero start
        second = 1.0 - self.beta2 ** self.steps
        for key, g in grads.items():
            if self.weight_decay and self.decoupled:
                params[key] *= 1.0 - self.lr * self.weight_decay
            elif self.weight_decay:
                g = g + self.weight_decay * params[key]
            m = self.m.get(key, 0.0) * self.beta1 + (1.0 - self.beta1) * g
            v = self.v.get(key, 0.0) * self.beta2 + (1.0 - self.beta2) * g * g
            self.m[key], self.v[key] = m, v
            params[key] -= self.lr * (m / first) / (np.sqrt(v / second) + self.eps)

    def remap(self, key: str, source: np.ndarray) -> None:
        """The synapses of `key` changed: entry i is old entry source[i] (new: -1)."""
        _remap(self.m, key, source)
        _remap(self.v, key, source)

    def state(self) -> dict[str, np.ndarray]:
        state = {"steps": np.array(self.steps)}
        state.update({f"m.{key}": m for key, m in self.m.items()})
        state.update({f"v.{key}": v for key, v in self.v.items()})
        return state

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self.steps = int(state["steps"])
        self.m = {k[2:]: np.array(a) for k, a in state.items() if k.startswith("m.")}
        self.v = {k[2:]: np.array(a) for k, a in state.items() if k.startswith("v.")}


def _remap(state: dict[str, np.ndarray], key: str, source: np.ndarray) -> None:
    """Each synapse keeps its own running average; a new synapse starts from zero."""
    if key not in state:
        return
    old = state[key]
    new = np.zeros(source.size, dtype=old.dtype)
    new[source >= 0] = old[source[source >= 0]]
    state[key] = new
