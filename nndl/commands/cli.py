"""`nndlc`: check, compile, list, compare, train and run NNDL programs. Only this module writes
to the terminal.

Exit codes: 0 success, 1 an error in the user's program or data (or backends that disagree),
2 a wrong command line.
"""

from __future__ import annotations

import argparse
import signal
import sys
import warnings
from pathlib import Path

from nndl import backends
from nndl.compiler import select_network
from nndl.commands.check import check_networks
from nndl.diagnostics import NNDLError
from nndl.frontend import read_source
from nndl.runtime.build import NNDLWarning
from nndl.runtime.errors import RuntimeNNDLError
from nndl.runtime.files import refuse_overwriting, write_text_atomically
from nndl.version import __version__

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # as shells report a program stopped by Ctrl-C


class UsageError(Exception):
    """The command line asks for something impossible (exit 2)."""


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except NNDLError as e:
        sys.stderr.write(e.diagnostics.render(concise=args.concise))
        return EXIT_ERROR
    except (RuntimeNNDLError, LookupError) as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else e  # str() would quote it
        print(f"error: {message}", file=sys.stderr)
        return EXIT_ERROR
    except UsageError as e:
        parser.print_usage(sys.stderr)
        print(f"nndlc: error: {e}", file=sys.stderr)
        return EXIT_USAGE


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("file", help="an .nndl source file")
    common.add_argument("--concise", action="store_true",
                        help="one line per diagnostic, without the source excerpt")
    common.add_argument("--set", action="append", type=_override, default=[], metavar="NAME=VALUE",
                        help="override the file's `param NAME = ...` (a number or true/false); "
                             "repeatable")
    parser = argparse.ArgumentParser(
        prog="nndlc", description="Compile NNDL network descriptions to Python modules.")
    parser.add_argument("--version", action="version", version=f"nndlc {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = sub.add_parser("check", parents=[common], help="report errors and warnings only")
    check.set_defaults(run=cmd_check)

    comp = sub.add_parser("compile", parents=[common], help="write the generated module")
    comp.add_argument("--backend", choices=backends.BACKENDS, default="numpy")
    comp.add_argument("--network", help="which network, when the file declares several")
    comp.add_argument("-o", "--output", help="output file (default: FILE_BACKEND.py; - for stdout)")
    comp.set_defaults(run=cmd_compile)

    listing = sub.add_parser("ir", parents=[common], help="print the checked IR")
    listing.add_argument("--json", action="store_true", help="as JSON instead of a listing")
    listing.set_defaults(run=cmd_ir)

    equiv = sub.add_parser("equiv", parents=[common],
                           help="run the backends on random inputs and compare them")
    equiv.add_argument("--backends", default=",".join(backends.available()),
                       help="comma-separated (default: those that run here, %(default)s)")
    equiv.add_argument("--ticks", type=_positive, default=1)
    equiv.add_argument("--batch", type=_positive, default=4)
    equiv.add_argument("--network", help="only this network")
    equiv.set_defaults(run=cmd_equiv)

    train = sub.add_parser("train", parents=[common],
                           help="train with a regime, evaluate on held-out data, save results")
    train.add_argument("--regime", help="which train block (default: the network's first)")
    train.add_argument("--network", help="which network, when the file declares several")
    train.add_argument("--data", help="a built-in data set (digits, parity(5), ...) or an .npz "
                                      "path, instead of the regime's")
    train.add_argument("--backend", choices=backends.BACKENDS, default="numpy")
    train.add_argument("--out", help="folder for the weights, history and plot "
                                     "(default: runs/NETWORK)")
    train.add_argument("--epochs", type=_positive, help="instead of the regime's")
    train.add_argument("--seed", type=_natural, help="instead of the network's")
    train.add_argument("--resume", action="store_true",
                       help="continue from the checkpoint in the output folder")
    train.add_argument("--quiet", action="store_true", help="no progress bar or epoch lines")
    train.add_argument("--no-cache", action="store_true",
                       help="generate the module afresh, neither reading nor writing the compile "
                            "cache (as NNDL_NO_CACHE=1 does)")
    train.set_defaults(run=cmd_train)

    rec = sub.add_parser("run", parents=[common],
                         help="run a network for some ticks, recording groups and states to .npz")
    rec.add_argument("--ticks", type=_positive, required=True, help="how many ticks to run")
    rec.add_argument("--record", action="append", metavar="GROUP[.STATE]",
                     help="a group's output or a model state to record, every tick (repeat "
                          "for more; default: every group that is not an input)")
    rec.add_argument("--input", action="append", default=[], metavar="NAME=FILE.npy",
                     help="an input's values, (batch, *shape) or (ticks, batch, *shape); every "
                          "input of the network must be given")
    rec.add_argument("--network", help="which network, when the file declares several")
    rec.add_argument("--backend", choices=backends.BACKENDS, default="numpy")
    rec.add_argument("--weights", help="a weight file to load first (.npz, as train saves)")
    rec.add_argument("--seed", type=_natural, help="instead of the network's")
    rec.add_argument("--dtype", choices=("float32", "float64"),
                     help="default: the backend's (oo float64, numpy and cupy float32)")
    rec.add_argument("--batch", type=_positive,
                     help="samples run at once by a network without inputs (default 1)")
    rec.add_argument("-o", "--output", help="the .npz to write (default: FILE_NETWORK_run.npz)")
    rec.add_argument("--plot", help="where to draw the recordings (default: the output's name "
                                    "with .png; one file per recording, NAME.KEY.png, when "
                                    "there are several)")
    rec.add_argument("--no-plot", action="store_true", help="save the recordings only")
    rec.add_argument("--no-cache", action="store_true",
                     help="generate the module afresh, neither reading nor writing the compile "
                          "cache")
    rec.set_defaults(run=cmd_run)

    sweep = sub.add_parser("sweep", parents=[common],
                           help="train every combination of parameter values and seeds, on Dask")
    sweep.add_argument("--grid", action="append", type=_grid_item, default=[],
                       metavar="NAME=V1,V2,...",
                       help="values of one of the file's parameters; repeatable (the runs are "
                            "every combination; none: the seeds alone)")
    sweep.add_argument("--seeds", type=_positive, default=1, help="seeds 0..N-1 for each "
                                                                  "combination (default 1)")
    sweep.add_argument("--regime", help="which train block (default: the network's first)")
    sweep.add_argument("--network", help="which network, or several: NAME,NAME,... "
                                         "(default: every network the file declares)")
    sweep.add_argument("--data", help="a built-in data set or an .npz path, instead of the "
                                      "regime's")
    sweep.add_argument("--backend", choices=backends.BACKENDS, default="numpy")
    sweep.add_argument("--epochs", type=_positive, help="instead of the regime's")
    sweep.add_argument("--scheduler", metavar="ADDRESS",
                       help="a running Dask scheduler (tcp://host:8786); default: a local "
                            "cluster")
    sweep.add_argument("--workers", type=_natural, help="processes of the local cluster "
                                                        "(default: one per core; 0: no Dask, "
                                                        "each run here in turn)")
    sweep.add_argument("--out", help="folder for results.csv, summary.csv, plots and each "
                                     "run's weights (default: sweeps/FILE)")
    sweep.add_argument("--resume", action="store_true",
                       help="run only what the results in --out do not have yet")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    sweep.set_defaults(run=cmd_sweep)

    draw = sub.add_parser("graph", parents=[common],
                          help="draw the network: groups, connections, synapse counts, cycles")
    draw.add_argument("--network", help="which network, when the file declares several")
    draw.add_argument("-o", "--output",
                      help="NAME.svg, .png or .pdf (drawn by Graphviz's `dot`, or by "
                           "matplotlib without it) or NAME.dot (DOT text, needs neither); - "
                           "writes DOT to stdout (default: FILE.svg)")
    draw.set_defaults(run=cmd_graph)

    export = sub.add_parser("export", parents=[common],
                            help="write the network as NIR (neuromorphic tools) or ONNX")
    export.add_argument("--to", choices=("nir", "onnx"), required=True)
    export.add_argument("-o", "--output", help="output file (default: FILE.nir or FILE.onnx)")
    export.add_argument("--network", help="which network, when the file declares several")
    export.add_argument("--weights", help="a weight file (.npz) to export (default: the "
                                          "initial weights of the network's seed)")
    export.add_argument("--dt", type=_seconds, help="NIR: seconds per tick (default 1e-4, "
                                                    "as snnTorch assumes)")
    export.add_argument("--ticks", type=_positive, default=1,
                        help="ONNX: how many ticks the model unrolls (default %(default)s)")
    export.set_defaults(run=cmd_export)

    imp = sub.add_parser("import", help="read a NIR graph as an .nndl file and its weights")
    imp.add_argument("file", help="a .nir file (HDF5, as nir.write writes it)")
    imp.add_argument("-o", "--output", help="the .nndl file (default: FILE.nndl); its weights "
                                            "go beside it as .npz")
    imp.add_argument("--weights", help="the weight file (default: OUTPUT with .npz)")
    imp.add_argument("--name", default="imported",
                     help="the network's name, where the graph does not give one")
    imp.add_argument("--dt", type=_seconds,
                     help="seconds per tick (default: the graph's, else 1e-4)")
    imp.add_argument("--concise", action="store_true", help=argparse.SUPPRESS)
    imp.set_defaults(run=cmd_import)
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number, 1 or more; got {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds; got {text!r}")
    return value



def _override(text: str) -> tuple[str, float | bool]:
    from nndl.frontend.parameters import OverrideError, parse_override

    try:
        return parse_override(text)
    except OverrideError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _grid_item(text: str) -> tuple[str, list[float | bool]]:
    from nndl.frontend.parameters import OverrideError

    from nndl.commands.sweep import parse_grid

    try:
        ((name, values),) = parse_grid([text]).items()
    except OverrideError as e:
        raise argparse.ArgumentTypeError(str(e).replace("--set", "--grid")) from None
    return name, values


def overrides(args) -> dict[str, float | bool]:
    """The `--set` values by name (the last of one name wins, as in most tools)."""
    return dict(args.set)


def _natural(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number, 0 or more; got {text!r}")
    return int(text)


def _load(args):
    """The checked program, after printing any warnings; errors raise NNDLError."""
    return _checked(args)[0]


def _checked(args):
    """As `_load`, with each network's survey of its synapses (counts, what was built)."""
    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"cannot read {args.file}: no such file")
    program, diags, surveys = check_networks(read_source(path), args.file, overrides(args))
    diags.raise_if_errors()
    if diags.warnings:
        sys.stderr.write(diags.render(concise=args.concise))
    return program, surveys


def cmd_check(args) -> int:
    program = _load(args)
    names = ", ".join(n.name for n in program.networks)
    print(f"{args.file}: ok ({len(program.networks)} network{'s' * (len(program.networks) != 1)}:"
          f" {names})")
    return EXIT_OK


def cmd_compile(args) -> int:
    program = _load(args)
    network = select_network(program, args.network)
    source = backends.generate(network, args.backend)
    if args.output == "-":
        sys.stdout.write(source)
        return EXIT_OK
    out = Path(args.output or f"{Path(args.file).stem}_{args.backend}.py")
    refuse_overwriting([out], [args.file])
    write_text_atomically(out, source)
    print(f"wrote {out} ({args.backend} backend, network {network.name})")
    return EXIT_OK


def cmd_ir(args) -> int:
    # here, not at the top: `check` and `compile` start faster without the backends' lowering
    from nndl.backends.numpy.layouts import listed
    from nndl import datasets
    from nndl.ir.listing import network_listing

    program, surveys = _checked(args)
    if args.json:
        print(program.to_json())
        return EXIT_OK
    listings = []
    for network in program.networks:
        counts = surveys[network.name].counts  # counted or built once, by the check
        layouts = {p.name: listed(network, p) for p in network.projections}
        listings.append(network_listing(network, counts, layouts, datasets.SEQUENCE_TICKS))
    sys.stdout.write("\n".join(listings))
    return EXIT_OK


def cmd_equiv(args) -> int:
    from nndl.commands.equivalence import compare  # runs networks: numpy and every backend's lowering

    names = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = [b for b in names if b not in backends.BACKENDS]
    if unknown or len(names) < 2:
        raise UsageError(f"--backends needs two or more of {', '.join(backends.BACKENDS)}"
                         + (f"; unknown: {', '.join(unknown)}" if unknown else ""))
    for name in names:
        if reason := backends.unavailable(name):
            raise UsageError(f"backend {name} cannot run here: {reason}")
    names.sort(key=lambda b: b != "numpy")  # the float64 NumPy run is the reference
    program = _load(args)
    networks = [select_network(program, args.network)] if args.network else program.networks
    worst = True
    for network in networks:
        with warnings.catch_warnings():  # already reported, positioned, by _load
            warnings.simplefilter("ignore", NNDLWarning)
            results = compare(network, names, ticks=args.ticks, batch=args.batch)
        print(f"network {network.name}: {', '.join(names)} on random inputs "
              f"(batch {args.batch}, ticks {args.ticks}, float64, seed {network.seed})")
        for r in results:
            verdict = "ok" if r.agrees else f"DISAGREE (tolerance {r.tolerance:g})"
            print(f"  {r.quantity:<24} {r.backend} vs {r.reference}: "
                  f"max difference {r.difference:.3g}  {verdict}")
        worst = worst and all(r.agrees for r in results)
    print("the backends agree" if worst else "the backends DISAGREE")
    return EXIT_OK if worst else EXIT_ERROR


def _percent(value: float) -> str:
    return f"{100 * value:.2f}%"


def _number(value: float) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


# What `nndlc train` prints after each epoch and at the end, where the history has it:
# (key, label, format). Local rules alone record no loss, only what the rules did.
EPOCH_LINE = (("loss", "loss", _number), ("mistakes", "mistakes", _number),
              ("weight_change", "weight change", "{:.3g}".format),
              ("output_rate", "output rate (a tick)", "{:.3g}".format),
              ("synapses", "synapses", _number), ("test_loss", "test loss", _number),
              ("test_accuracy", "test accuracy", _percent),
              ("test_mistakes", "test mistakes", _number))
TEST_LINE = (("accuracy", "accuracy", _percent), ("loss", "loss", _number),
             ("mistakes", "mistakes", _number))


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def cmd_train(args) -> int:
    _load(args)  # report every diagnostic of the file first, as `check` would
    if reason := backends.unavailable(args.backend):
        raise UsageError(f"backend {args.backend} cannot run here: {reason}")
    from tqdm import tqdm

    from nndl.commands.train import train  # numpy-heavy; only this command needs it

    finished = []  # epochs this run has finished (and checkpointed)

    def report(epoch: int, history: dict) -> None:
        finished.append(epoch)
        if args.quiet:
            return
        shown = [f"{label} {form(history[key][-1])}" for key, label, form in EPOCH_LINE
                 if history.get(key)]
        tqdm.write(f"epoch {epoch:>3}  " + "  ".join(shown))  # above the bar, which stays last

    # SIGTERM (a scheduler's stop) ends training as Ctrl-C does: between two atomic writes,
    # so the last epoch's checkpoint stays whole and `--resume` continues from it
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with warnings.catch_warnings():  # already reported, positioned, by _load
            warnings.simplefilter("ignore", NNDLWarning)
            result = train(args.file, regime=args.regime, network=args.network,
                           data=args.data, backend=args.backend, out=args.out,
                           epochs=args.epochs, seed=args.seed, resume=args.resume,
                           progress=not args.quiet, on_epoch=report, cache=not args.no_cache,
                           params=overrides(args))
    except KeyboardInterrupt:
        print("\ninterrupted: the checkpoint of the last finished epoch is kept; continue with "
              "the same command and --resume" if finished else
              "\ninterrupted before an epoch ended: nothing new was saved", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)
    if result.data is None:  # a regime without data
        print(f"network {result.network}, regime {result.regime}, {result.backend} backend: ran "
              f"on its own (no data) and learned by its local rules in {result.seconds:.1f} s")
        print(f"saved {result.weights}, {result.history_file}"
              + (f" and {result.plot}" if result.plot else
                 " (no plot: pip install matplotlib for one)"))
        return EXIT_OK
    print(f"network {result.network}, regime {result.regime}, {result.backend} backend: trained "
          f"on {result.train_samples} samples of {result.data} in {result.seconds:.1f} s")
    which = "the training samples (the data set has no others)" if result.test_is_train else \
        f"{result.test_samples} held-out samples"
    scores = [f"test {label} {form(result.test[key])}" for key, label, form in TEST_LINE
              if key in result.test]
    print(", ".join(scores) + f" on {which}" if scores else
          f"nothing to evaluate on {which}: regime `{result.regime}` has no loss and no "
          "rule that reads `target` (as the perceptron does), so nothing compares the outputs "
          "with the targets")
    print(f"saved {result.weights}, {result.history_file}"
          + (f" and {result.plot}" if result.plot else
             " (no plot: pip install matplotlib for one)"))
    return EXIT_OK


def cmd_run(args) -> int:
    program = _load(args)  # report every diagnostic of the file first, as `check` would
    if reason := backends.unavailable(args.backend):
        raise UsageError(f"backend {args.backend} cannot run here: {reason}")
    from nndl.commands.run import check_inputs, parse_inputs, run  # numpy-heavy
    from nndl.runtime import recording
    from nndl.runtime.errors import InputError

    network = select_network(program, args.network)
    try:  # names on the command line that the network does not have: a wrong command line
        inputs = parse_inputs(args.input)
        check_inputs(network, inputs)
        recording.items(network, args.record or ())
    except InputError as e:
        raise UsageError(str(e)) from None
    with warnings.catch_warnings():  # already reported, positioned, by _load
        warnings.simplefilter("ignore", NNDLWarning)
        done = run(args.file, ticks=args.ticks, record=args.record, network=args.network,
                   backend=args.backend, weights=args.weights, seed=args.seed,
                   dtype=args.dtype, batch=args.batch, inputs=inputs, out=args.output,
                   plot=args.plot, draw=not args.no_plot, cache=not args.no_cache)
    print(f"network {done.network}, {done.backend} backend ({done.dtype}, seed {done.seed}): "
          f"ran {done.ticks} ticks of a batch of {done.batch} in {done.seconds:.1f} s")
    for key, values in done.result.recorded.items():
        line = f"  {key:<16} {tuple(values.shape)}"
        if key in done.result.spikes:
            spikes = done.result.spikes[key]
            line += (f"  {spikes.tick.size:,} spikes, {spikes.rate().mean():.3g} per neuron "
                     "per tick")
        else:
            line += f"  from {values.min():.4g} to {values.max():.4g}"
        print(line)
    drawn = ", ".join(str(p) for p in done.plots)
    print(f"saved {done.file}" + (f" and {drawn}" if drawn else "" if done.plotting else
                                  " (no plot: pip install matplotlib for one)"))
    return EXIT_OK


def cmd_sweep(args) -> int:
    _load(args)  # report every diagnostic of the file first, as `check` would
    if reason := backends.unavailable(args.backend):
        raise UsageError(f"backend {args.backend} cannot run here: {reason}")
    from nndl.commands import sweep_report
    from nndl.commands.sweep import sweep

    grid: dict[str, list] = {}
    for name, values in args.grid:
        grid.setdefault(name, []).extend(values)
    finished = []
    try:
        with warnings.catch_warnings():  # already reported, positioned, by _load
            warnings.simplefilter("ignore", NNDLWarning)
            result = sweep(args.file, grid, args.seeds, regime=args.regime,
                           network=args.network, backend=args.backend, params=overrides(args),
                           epochs=args.epochs, data=args.data, scheduler=args.scheduler,
                           workers=args.workers, out=args.out, resume=args.resume,
                           progress=not args.quiet, on_result=finished.append)
    except KeyboardInterrupt:
        print(f"\ninterrupted: {len(finished)} new result{'s' * (len(finished) != 1)} saved; "
              "continue with the same command and --resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    failed = [r for r in result.rows if r["status"] != "ok"]
    print(f"{len(result.rows)} runs ({result.ran} now, {len(failed)} failed) in {result.folder}")
    names = result.names
    sys.stdout.write(sweep_report.table(result.summary, names, result.metric))
    for row in failed[:5]:
        print(f"failed: {row['key']}: {row['error'].splitlines()[0] if row['error'] else '?'}")
    shown = [result.results, result.folder / "summary.csv", *result.plots]
    print("saved " + ", ".join(str(p) for p in shown)
          + (" (no plots: pip install matplotlib for them)"
             if set(names) - {"network"} and not result.plots
             else ""))
    return EXIT_OK


def cmd_graph(args) -> int:
    from nndl import drawing
    from nndl.frontend import check_text

    output = args.output or f"{Path(args.file).stem}.svg"
    try:
        fmt = "dot" if output == "-" else drawing.format_of(output)
    except ValueError as e:
        raise UsageError(str(e)) from None
    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"cannot read {args.file}: no such file")
    if fmt != "dot":
        drawing.drawer(output)  # before any work: exit 1 with how to get Graphviz or matplotlib
    # the front end's diagnostics only: a network too large to build is still drawn (with
    # bounds), and one whose rules build no synapse or a neuron-level cycle shows why
    program, diags = check_text(read_source(path), args.file, overrides(args))
    diags.raise_if_errors()
    if diags.warnings:
        sys.stderr.write(diags.render(concise=args.concise))
    network = select_network(program, args.network)
    if output == "-":
        sys.stdout.write(drawing.to_dot(network))
        return EXIT_OK
    drawn_by = drawing.draw(network, output)
    print(f"wrote {output} (network {network.name}: {len(network.groups)} groups, "
          f"{len(network.projections)} connections)")
    if drawn_by in drawing.DREW_WITH:
        sys.stderr.write(drawing.DREW_WITH[drawn_by] + "\n")
    return EXIT_OK


def cmd_export(args) -> int:
    from nndl import interchange  # nir / onnx are optional: only this command needs them

    program = _load(args)
    network = select_network(program, args.network)
    out = Path(args.output or f"{Path(args.file).stem}.{args.to}")
    refuse_overwriting([out], [args.file, args.weights])
    weights = args.weights
    if weights is not None and not Path(weights).is_file():
        raise UsageError(f"cannot read {weights}: no such file")
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always", interchange.InterchangeWarning)
        if args.to == "nir":
            graph = interchange.write_nir(out, network, weights, args.dt)
            what = f"{len(graph.nodes)} NIR nodes, {len(graph.edges)} edges, " \
                   f"dt = {graph.metadata['dt']:g} s per tick"
        else:
            model = interchange.write_onnx(out, network, weights, args.ticks)
            what = f"ONNX opset {model.opset_import[0].version}, {len(model.graph.node)} " \
                   f"operators, {args.ticks} tick{'s' * (args.ticks != 1)}"
    for w in said:
        print(f"warning: {w.message}", file=sys.stderr)
    print(f"wrote {out} (network {network.name}: {what})")
    return EXIT_OK


def cmd_import(args) -> int:
    from nndl import interchange

    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"cannot read {args.file}: no such file")
    out = Path(args.output or path.with_suffix(".nndl").name)
    weights = Path(args.weights) if args.weights else out.with_suffix(".npz")
    refuse_overwriting([out, weights], [args.file])
    imported = interchange.from_nir(path, name=args.name, dt=args.dt)
    imported.write(out, weights)
    for note in imported.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {out} and {weights} (network {imported.name}, dt = {imported.dt:g} s "
          "per tick)")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
