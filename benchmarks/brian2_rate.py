"""W5's peer, run by w5_rate.py in a separate environment that has Brian2 (which needs
numpy < 2.3): the same rate network, r <- tanh(W r + b) once a time step, one step a tick.

    python brian2_rate.py WEIGHTS.npz TARGET TICKS  ->  prints seconds per run (the first
    includes code generation), then writes r to WEIGHTS.npz.r.npy
"""

import sys
import time

import numpy as np


def main() -> None:
    import brian2 as b2

    weights, target, ticks = sys.argv[1], sys.argv[2], int(sys.argv[3])
    data = np.load(weights)
    b2.prefs.codegen.target = target
    b2.defaultclock.dt = 1 * b2.ms
    times = []
    for _ in range(4):  # a fresh network each run; the first generates (and compiles) the code
        b2.start_scope()
        group = b2.NeuronGroup(int(data["n"]), "r : 1\ns : 1")
        synapses = b2.Synapses(group, group, "w : 1\ns_post = w * r_pre : 1 (summed)")
        synapses.connect(i=data["pre"], j=data["post"])
        synapses.w = data["w"]
        group.r = float(data["init"])
        # at the end of each step, after the summed input was computed from the old rates
        group.run_regularly(f"r = tanh(s + {float(data['bias'])})", when="end")
        network = b2.Network(group, synapses)
        start = time.perf_counter()
        network.run(ticks * b2.defaultclock.dt)
        times.append(time.perf_counter() - start)
    print(" ".join(f"{t:.6f}" for t in times))
    np.save(sys.argv[1] + ".r.npy", np.asarray(group.r[:]))


if __name__ == "__main__":
    main()
