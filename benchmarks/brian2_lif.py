"""W5 LIF's Brian2 contestant, run by the harness in a separate Python that has Brian2 (see
brian2_rate.py):

    BRIAN_PYTHON brian2_lif.py TARGET SETTINGS_JSON RESULT.npz

The network of w5_lif.nndl with NNDL's synapses, handed over sorted by source (the order of
Brian2's own connect()), at Brian2's defaults (float64; its C++ built with -ffast-math, which
the whole-number arithmetic makes harmless). One time step a tick, in Brian2's schedule: at the
start of step t the current takes in what the spikes of step t - 1 delivered into `x` (NNDL's
delay 1), then the potential; the threshold, the synapses (`x_post += w`) and the reset follow.
A SpikeMonitor records the raster (NNDL returns it too); it goes to RESULT.npz. The code is
generated once: the timed call counts the ticks alone (see brian2_rate.py).
"""

import json
import sys

import numpy as np

from serve import serve, ticks_alone


def main(argv) -> None:
    import brian2 as b2

    target, settings, result_path = argv
    data = np.load(json.loads(settings)["data"])
    size, threshold, drive = int(data["n"]), float(data["threshold"]), float(data["drive"])
    b2.prefs.codegen.target = target
    b2.defaultclock.dt = 1 * b2.ms
    duration = int(data["ticks"]) * b2.defaultclock.dt

    group = b2.NeuronGroup(size, "v : 1\ng : 1\nx : 1", threshold=f"v >= {threshold!r}",
                           reset="v = 0")
    group.run_regularly(f"g = floor(0.75 * g) + x\nx = 0\nv = floor(0.9375 * v) + g + {drive!r}",
                        when="start")
    synapses = b2.Synapses(group, group, "w : 1", on_pre="x_post += w")
    order = np.lexsort((data["post"], data["pre"]))
    synapses.connect(i=data["pre"][order], j=data["post"][order])
    synapses.w = data["w"][order]
    monitor = b2.SpikeMonitor(group)
    network = b2.Network(group, synapses, monitor)
    network.run(duration)
    ticks = np.round(np.asarray(monitor.t / b2.defaultclock.dt)).astype(np.int64)
    np.savez(result_path, ticks=ticks, neurons=np.asarray(monitor.i[:], dtype=np.int64))

    serve(lambda: network.run(duration), timed=ticks_alone(network, duration, 0 * b2.ms))


if __name__ == "__main__":
    main(sys.argv[1:])
