"""Running one network on several backends with the same seed and inputs, and comparing them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nndl import backends, ir
from nndl.compiler import module_from_source
from nndl.runtime import resources

# DESIGN.md, Equivalence: float64 OO and NumPy agree to about 1e-9 (relative).
TOLERANCE = {"float64": 1e-9, "float32": 1e-4}


@dataclass(frozen=True)
class Comparison:
    network: str
    quantity: str  # "output y", "loss", "gradient conv.w"
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
    """Outputs of every backend in `names` against the first, in float64, at every tick; then
    an mse loss over every tick against random targets, and its gradient for every weight and
    bias. The cupy backend runs in float32 too (to DESIGN.md's 1e-4), as it runs on a GPU."""
    if not network.inputs:  # a network that drives itself runs one sample, so one target
        batch = 1
    for name in names:  # before drawing inputs for every tick of the batch
        resources.check(network, batch, ticks, training=True, backend=name)
    inputs = random_inputs(network, batch, ticks, seed)
    rng = np.random.default_rng(seed + 1)
    targets = {g.name: rng.normal(size=(ticks, batch) + g.shape) for g in network.outputs}
    outputs, losses, grads = {}, {}, {}
    runs = [(name, "float64") for name in names]
    runs += [("cupy", "float32")] if "cupy" in names else []  # the GPU's own precision too
    modules = {name: module_from_source(backends.generate(network, name), f"nndl_equiv_{name}")
               for name in names}
    for name, dtype in runs:
        net = modules[name].Network(seed=network.seed, dtype=dtype)
        label = name if dtype == "float64" else f"{name} {dtype}"
        outputs[label] = net.run(inputs, ticks=ticks, every_tick=True)
        losses[label], grads[label] = net.loss_and_grad(inputs, targets, loss="mse",
                                                        every_tick=True, ticks=ticks)
    reference = names[0]
    results = []
    for name in list(outputs)[1:]:
        tolerance = TOLERANCE["float32" if name.endswith("float32") else "float64"]
        results += [Comparison(network.name, f"output {g.name}", name, reference,
                               scaled_difference(outputs[name][g.name],
                                                 outputs[reference][g.name]), tolerance)
                    for g in network.outputs]
        results.append(Comparison(network.name, "loss", name, reference, scaled_difference(
            np.asarray(losses[name]), np.asarray(losses[reference])), tolerance))
        results += [Comparison(network.name, f"gradient {key}", name, reference,
                               scaled_difference(grads[name][key], grads[reference][key]),
                               tolerance)
                    for key in grads[reference]]
    return results
