"""One contestant in a process of its own (started by benchmarks/harness.py):

    python -m benchmarks.worker MODULE CONTESTANT SETTINGS_JSON RESULT.npz

builds benchmarks.MODULE's CONTESTANTS[CONTESTANT] with the settings, writes the numbers of
its first call to RESULT.npz for the agreement check, calls it once more to warm up when it is
quick, and then answers the harness's requests (benchmarks/serve.py). It imports only what that
contestant needs: a PyTorch peer never imports NNDL, nor NNDL PyTorch.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
import warnings

import numpy as np

from benchmarks.serve import resident_mib, serve

WARM_UP_BELOW = 1.0  # seconds: a second call warms caches and allocators; a slow one needs none


def main(argv: list[str]) -> None:
    module_name, key, settings, result_path = argv
    warnings.simplefilter("ignore")  # fan_in shortfalls, PyTorch's "sparse is beta"
    module = importlib.import_module(f"benchmarks.{module_name}")
    step, to_result = module.CONTESTANTS[key](**json.loads(settings))
    built_mib = resident_mib()
    start = time.perf_counter()
    value = step()
    if time.perf_counter() - start < WARM_UP_BELOW:
        step()
    np.savez(result_path, **{name: np.asarray(v) for name, v in to_result(value).items()})
    serve(step, built_mib)


if __name__ == "__main__":
    main(sys.argv[1:])
