"""Pruning the main job's network (examples/digits_pruning.nndl, the `digits` network of
examples/digits.nndl): train it, then for each fraction remove that share of the synapses of its
two large dense projections (`maps -> hidden`, `hidden -> label`), the weakest first, measure the
test accuracy, fine-tune with the `finetune` regime (which prunes weak synapses and grows new
ones as it trains), and measure again. Prints a table and saves a plot of test accuracy against
the fraction removed, beside the synapse count over fine-tuning.

    python examples/pruning.py      # trains first; about 30 s on two cores in all
    python examples/pruning.py runs/digits/digits.npz --fractions 0.5 0.8   # weights of either

It writes the weight files (trained, and pruned_NN.npz for each fraction) and pruning.png into
--out (default runs/digits_pruning). Training uses digits.nndl, whose dense layout is faster;
fine-tuning needs digits_pruning.nndl, whose rewired projections are stored sparse (the less
pruned, the slower: the 0% row takes most of the time).

Pruning is done on the weight file: a rewired projection's file may hold any subset of its
rule's candidate synapses, so removing entries from `NAME.pre`, `NAME.post` and `NAME.w` (in
the order they are stored, which is CSR order) and loading the file is all it takes.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

import nndl
from nndl import datasets

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "digits_pruning.nndl"
DENSE = HERE / "digits.nndl"  # the same network, stored dense: it trains faster
PRUNABLE = ("maps->hidden", "hidden->label")  # the projections the `finetune` regime rewires
FRACTIONS = (0.0, 0.5, 0.8, 0.9, 0.95)


def prunable(arrays) -> int:
    """How many synapses the prunable projections hold."""
    return sum(arrays[f"{name}.w"].size for name in PRUNABLE)


def prune(arrays: dict, fraction: float) -> dict:
    """The weight file's arrays with `fraction` of the prunable synapses removed: the ones with
    the smallest |w| over both projections together (ties broken by position). The rest keep
    their order, so the file stays in CSR order."""
    weights = np.concatenate([np.abs(arrays[f"{name}.w"]) for name in PRUNABLE])
    remove = round(fraction * weights.size)
    keep = np.ones(weights.size, dtype=bool)
    keep[np.argsort(weights, kind="stable")[:remove]] = False
    pruned, start = dict(arrays), 0
    for name in PRUNABLE:
        size = arrays[f"{name}.w"].size
        mask = keep[start:start + size]
        for part in ("pre", "post", "w"):
            pruned[f"{name}.{part}"] = arrays[f"{name}.{part}"][mask]
        start += size
    return pruned


def prune_file(source: Path, destination: Path, fraction: float) -> None:
    """Write `source` with `fraction` of its prunable synapses removed (metadata kept)."""
    with np.load(source, allow_pickle=False) as f:
        arrays = {key: f[key] for key in f.files}
    np.savez(destination, **prune(arrays, fraction))


def accuracy(net, ds) -> float:
    return net.evaluate({"image": ds.x_test}, {"label": ds.y_test})["accuracy"]


def train(ds, out: Path) -> Path:
    """Train the network with examples/digits.nndl's `supervised` regime (dense layout, the
    same weights) and save it as examples/digits_pruning.nndl's network."""
    dense = nndl.compile(DENSE, backend="numpy").Network()
    dense.fit({"image": ds.x_train}, {"label": ds.y_train}, progress=False)
    dense.save(out / "dense.npz")
    return adopt(out / "dense.npz", out)


def adopt(weights: Path, out: Path) -> Path:
    """Load a weight file of the `digits` network (from either source file) and save it from
    digits_pruning.nndl, so the files derived from it name this source."""
    net = nndl.compile(SOURCE, backend="numpy").Network()
    with warnings.catch_warnings():  # "saved from a different source text": expected here
        warnings.simplefilter("ignore", UserWarning)
        net.load(weights)
    net.save(out / "trained.npz")
    return out / "trained.npz"


def finetune(path: Path, ds) -> tuple[float, float, dict, object]:
    """Load a (pruned) weight file, fine-tune it; (accuracy before, after, history, net)."""
    net = nndl.compile(SOURCE, backend="numpy").Network()
    net.load(path)
    before = accuracy(net, ds)
    with warnings.catch_warnings():  # a nearly full projection has few synapses left to grow
        warnings.filterwarnings("ignore", message=r"rewire .* found only")
        history = net.fit({"image": ds.x_train}, {"label": ds.y_train}, regime="finetune",
                          validation=({"image": ds.x_test}, {"label": ds.y_test}),
                          progress=False)
    return before, history["test_accuracy"][-1], history, net


def backends_agree(path: Path, ds, count: int = 20) -> bool:
    """The OO backend (one object per synapse) loads the pruned file and answers as NumPy does."""
    answers = {}
    for backend in ("oo", "numpy"):
        net = nndl.compile(SOURCE, backend=backend).Network()
        net.load(path)
        answers[backend] = net.run(image=ds.x_test[:count])["label"].argmax(-1)
    return bool(np.array_equal(answers["oo"], answers["numpy"]))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("weights", nargs="?", help="a trained `digits` weight file (default: "
                        "train one)")
    parser.add_argument("--fractions", type=float, nargs="+", default=FRACTIONS)
    parser.add_argument("--out", default="runs/digits_pruning", help="folder for the files")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ds = datasets.load("digits")

    start = time.perf_counter()
    trained = adopt(Path(args.weights), out) if args.weights else train(ds, out)
    with np.load(trained) as f:
        total = prunable(f)
    net = nndl.compile(SOURCE, backend="numpy").Network()
    net.load(trained)
    baseline = accuracy(net, ds)
    print(f"{'loaded' if args.weights else 'trained'} in {time.perf_counter() - start:.1f} s: "
          f"{100 * baseline:.2f}% test accuracy; {total:,} prunable synapses (maps->hidden, "
          "hidden->label)")

    rows, curves = [], {}
    for fraction in args.fractions:
        path = out / f"pruned_{round(100 * fraction):02d}.npz"
        prune_file(trained, path, fraction)
        start = time.perf_counter()
        before, after, history, net = finetune(path, ds)
        seconds = time.perf_counter() - start
        kept = prunable(net.parameters())
        fixed = history["synapses"][-1] - kept  # conv and the skip link: never rewired
        curves[fraction] = [total - round(fraction * total)] + \
            [count - fixed for count in history["synapses"]]
        rows.append((fraction, before, after, 1 - kept / total, sum(history["grown"]), seconds))

    print(f"\n{'removed':>7}  {'accuracy':>13}  {'accuracy':>10}  {'cost':>6}  "
          f"{'removed':>10}  {'grown':>5}  {'tuning':>6}")
    print(f"{'(asked)':>7}  {'after pruning':>13}  {'fine-tuned':>10}  {'(pts)':>6}  "
          f"{'at the end':>10}  {'back':>5}  {'time':>6}")
    for fraction, before, after, removed, grown, seconds in rows:
        print(f"{100 * fraction:6.0f}%  {100 * before:12.2f}%  {100 * after:9.2f}%  "
              f"{100 * (baseline - after):+6.2f}  {100 * removed:9.2f}%  {grown:5d}  "
              f"{seconds:5.1f}s")
    print("(cost: points of test accuracy lost against the unpruned network, after fine-tuning)")

    from nndl.plot import pruning_curves
    pruning_curves([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
                   out / "pruning.png", removed_after=[r[3] for r in rows],
                   synapses=curves, baseline=baseline,
                   synapses_label="synapses left (log scale)",
                   title=f"digits: pruning the {total:,} synapses of maps->hidden and "
                   "hidden->label")
    print(f"plot: {out / 'pruning.png'}")

    check = max(args.fractions)
    same = backends_agree(out / f"pruned_{round(100 * check):02d}.npz", ds)
    print(f"the oo backend loads the {100 * check:.0f}%-pruned file and answers as numpy does on "
          f"20 test images: the backends {'agree' if same else 'DISAGREE'}")


if __name__ == "__main__":
    main()
