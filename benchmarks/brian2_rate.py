"""W5's Brian2 contestant, run by the harness in a separate Python that has Brian2 (which needs
numpy < 2.3), so it imports only the standard library, numpy, Brian2 and serve.py beside it:

    BRIAN_PYTHON brian2_rate.py TARGET[+setup] SETTINGS_JSON RESULT.npz

The same rate network as w5_rate.nndl, r <- tanh(W r + b) once a time step, one step a tick, in
two versions. The agreement check: NNDL's synapses and weights, sorted by source as Brian2's own
connect() makes them; its final rates go to RESULT.npz. The timed one: Brian2 draws its own
synapses with connect(p=...) and its own weights, the way its users build such a network; both
are run once before timing, so the code is compiled once. Each run() of Brian2's runtime targets
generates its code objects again (about 1 s here, as long as 1000 ticks); so that code is
generated once in the figures too, a timed call counts the ticks alone: a run of TICKS ticks less
a run of none (with +setup, the whole run(), as context).
"""

import json
import sys

import numpy as np

from serve import serve, ticks_alone


def rate_network(b2, size: int, init: float, bias: float, connect):
    group = b2.NeuronGroup(size, "r : 1\ns : 1")
    synapses = b2.Synapses(group, group, "w : 1\ns_post = w * r_pre : 1 (summed)")
    connect(synapses)
    group.r = init
    # at the end of each step, after the summed input was computed from the old rates
    group.run_regularly(f"r = tanh(s + {bias!r})", when="end")
    return b2.Network(group, synapses), group


def main(argv) -> None:
    import brian2 as b2

    key, settings, result_path = argv
    target, _, setup = key.partition("+")  # "cython+setup": each timed run() with its set-up
    data = np.load(json.loads(settings)["data"])
    size, init, bias = int(data["n"]), float(data["init"]), float(data["bias"])
    b2.prefs.codegen.target = target
    b2.defaultclock.dt = 1 * b2.ms
    duration = int(data["ticks"]) * b2.defaultclock.dt

    order = np.lexsort((data["post"], data["pre"]))

    def nndl_synapses(synapses):
        synapses.connect(i=data["pre"][order], j=data["post"][order])
        synapses.w = data["w"][order]

    checked, group = rate_network(b2, size, init, bias, nndl_synapses)
    checked.run(duration)
    np.savez(result_path, r=np.asarray(group.r[:]))

    def own_synapses(synapses):
        synapses.connect(p=float(data["p"]))
        synapses.w = f"{float(data['sigma'])!r} * randn()"

    b2.seed(int(data["seed"]))
    timed, _ = rate_network(b2, size, init, bias, own_synapses)
    timed.run(duration)

    serve(lambda: timed.run(duration),
          timed=None if setup else ticks_alone(timed, duration, 0 * b2.ms))


if __name__ == "__main__":
    main(sys.argv[1:])
