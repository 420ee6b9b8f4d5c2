"""Running one network on several backends with the same seed and inputs, and comparing them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nndl import backends, ir
from nndl.compiler import module_from_source

# DESIGN.md, Equivalence: float64 OO and NumPy agree to about 1e-9 (relative).
TOLERANCE = {"float64": 1e-9, "float32": 1e-4}


@dataclass(frozen=True)
class Comparison:
    network: str
    quantity: str  # "output y", later "gradient W"
    backend: str
    reference: str
    difference: float  # max |a - b| / max(1, max |reference|)
    tolerance: float

    @property
    def agrees(self) -> bool:
        return bool(self.difference <= self.tolerance)


def scaled_difference(a: np.ndarray, ref: np.ndarray) -> float:
    """Largest absolute difference, relative to the reference's scale where that exceeds 1."""
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - ref)) / max(1.0, float(np.max(np.abs(ref)))))


def random_inputs(network: ir.Network, batch: int, ticks: int, seed: int) -> dict:
    """Time-varying inputs when ticks > 1 (so every tick differs), static ones otherwise."""
    rng = np.random.default_rng(seed)
    lead = (ticks, batch) if ticks > 1 else (batch,)
    return {g.name: rng.normal(size=lead + g.shape) for g in network.inputs}


def compare(network: ir.Network, names: list[str], ticks: int = 1, batch: int = 4,
            seed: int = 0) -> list[Comparison]:
    """Outputs of every backend in `names` against the first, in float64, at every tick."""
    inputs = random_inputs(network, batch, ticks, seed)
    outputs = {}
    for name in names:
        module = module_from_source(backends.generate(network, name), f"nndl_equiv_{name}")
        net = module.Network(seed=network.seed, dtype="float64")
        outputs[name] = net.run(inputs, ticks=ticks, every_tick=True)
    reference = names[0]
    return [
        Comparison(network.name, f"output {g.name}", name, reference,
                   scaled_difference(outputs[name][g.name], outputs[reference][g.name]),
                   TOLERANCE["float64"])
        for name in names[1:] for g in network.outputs
    ]
