"""Training checkpoints: a weight file (it opens with `net.load`) that also holds the optimiser's
state (`optimizer.*` arrays) and, in its metadata, the epoch, the shuffling stream's state, the
history and the regime; written atomically."""

from __future__ import annotations

import numpy as np

from nndl.runtime import weightfile
from nndl.runtime.errors import WeightFileError


def save_checkpoint(net, path, optimizer, epoch: int, rng, history: dict,
                    regime: str) -> None:
    """A weight file (it loads with `net.load`) plus the optimiser's state, the epoch, the
    shuffling stream's state and the history so far; written atomically."""
    arrays = net.parameters()
    arrays.update({f"optimizer.{key}": np.asarray(v) for key, v in optimizer.state().items()})
    meta = net.metadata()
    meta["checkpoint"] = {"epoch": epoch, "rng": rng.bit_generator.state, "history": history,
                          "regime": regime, "optimizer": type(optimizer).__name__.lower()}
    weightfile.save(path, arrays, meta)


def load_checkpoint(net, path, optimizer, rng) -> tuple[int, dict]:
    """Restore weights, optimiser, stream; returns (epochs done, history so far)."""
    arrays, meta = weightfile.load(path)
    state = meta.get("checkpoint")
    if not isinstance(state, dict):
        raise WeightFileError(f"{path} is a weight file, not a training checkpoint")
    net.load(path)
    optimizer.load_state({key.removeprefix("optimizer."): v for key, v in arrays.items()
                          if key.startswith("optimizer.")})
    rng.bit_generator.state = state["rng"]
    return int(state["epoch"]), {key: list(v) for key, v in state["history"].items()}
