"""Pruning the main job's network (examples/digits_pruning.nndl, through examples/pruning.py):
80% of the synapses of its two dense projections removed, with regrowth and fine-tuning, costs
under 2 points of test accuracy on the fixed digits test split."""

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest

import nndl
from nndl import datasets

pytest.importorskip("sklearn")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
_spec = importlib.util.spec_from_file_location("pruning_example", EXAMPLES / "pruning.py")
pruning = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pruning)

FIXED = ("conv", "image->label")  # never rewired: pruning leaves them as they are


def arrays_of(path) -> dict:
    with np.load(path, allow_pickle=False) as f:
        return {key: f[key] for key in f.files}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The main job's network, trained once (digits.nndl's regime), saved as digits_pruning's."""
    out = tmp_path_factory.mktemp("pruning")
    ds = datasets.load("digits")
    path = pruning.train(ds, out)
    net = nndl.compile(pruning.SOURCE, backend="numpy").Network()
    net.load(path)
    return ds, out, path, pruning.accuracy(net, ds)


@pytest.fixture(scope="module")
def pruned_80(trained):
    _, out, path, _ = trained
    pruning.prune_file(path, out / "pruned_80.npz", 0.8)
    return out / "pruned_80.npz"


@pytest.fixture(scope="module")
def finetuned_80(trained, pruned_80):
    ds, _, _, _ = trained
    return pruning.finetune(pruned_80, ds)


def test_the_trained_network_is_the_main_jobs(trained):
    assert trained[3] >= 0.97


def test_the_weight_files_are_interchangeable_with_digits_nndl(trained):
    ds, _, path, accuracy = trained
    dense = nndl.compile(pruning.DENSE, backend="numpy").Network()
    with warnings.catch_warnings():  # saved from the other source text: a warning, then loaded
        warnings.simplefilter("ignore", UserWarning)
        dense.load(path)
    assert pruning.accuracy(dense, ds) == pytest.approx(accuracy)


def test_pruning_removes_the_weakest_fraction_asked_and_keeps_csr_order(trained, pruned_80):
    whole, pruned = arrays_of(trained[2]), arrays_of(pruned_80)
    total = pruning.prunable(whole)
    assert total == 1024 * 128 + 128 * 10
    assert pruning.prunable(pruned) == total - round(0.8 * total)
    kept, removed = [], []
    for name in pruning.PRUNABLE:
        n_src = 1024 if name == "maps->hidden" else 128
        keys = pruned[f"{name}.post"] * n_src + pruned[f"{name}.pre"]
        assert (np.diff(keys) > 0).all(), name  # CSR order: by target, then source
        all_keys = whole[f"{name}.post"] * n_src + whole[f"{name}.pre"]
        here = np.isin(all_keys, keys)
        np.testing.assert_array_equal(whole[f"{name}.w"][here], pruned[f"{name}.w"])
        kept.append(np.abs(pruned[f"{name}.w"]))
        removed.append(np.abs(whole[f"{name}.w"][~here]))
    assert np.concatenate(kept).min() >= np.concatenate(removed).max()
    for name in FIXED:
        for part in ("pre", "post", "w"):
            np.testing.assert_array_equal(pruned[f"{name}.{part}"], whole[f"{name}.{part}"])


def test_the_pruned_file_loads_in_both_backends_and_they_agree(trained, pruned_80):
    ds = trained[0]
    x = ds.x_test[:20]
    outputs = {}
    for backend in ("oo", "numpy"):
        net = nndl.compile(pruning.SOURCE, backend=backend).Network()
        net.load(pruned_80)
        assert pruning.prunable(net.parameters()) == pruning.prunable(arrays_of(pruned_80))
        outputs[backend] = net.run(image=x)["label"]
    np.testing.assert_allclose(outputs["oo"], outputs["numpy"], atol=1e-5)
    assert np.array_equal(outputs["oo"].argmax(-1), outputs["numpy"].argmax(-1))
    assert pruning.backends_agree(pruned_80, ds)


def test_80_percent_pruning_with_regrowth_and_finetuning_costs_under_2_points(trained,
                                                                              finetuned_80):
    unpruned = trained[3]
    before, after, history, net = finetuned_80
    assert after > unpruned - 0.02, (unpruned, before, after)
    assert after > before  # fine-tuning recovered what pruning cost
    assert sum(history["grown"]) > 0  # synapses grew back while fine-tuning...
    total = pruning.prunable(arrays_of(trained[2]))
    removed = 1 - pruning.prunable(net.parameters()) / total
    assert removed >= 0.79  # ...but 80% of them are still gone, up to that regrowth


def test_synapse_count_after_finetuning_is_the_pruned_one_up_to_regrowth(trained, pruned_80,
                                                                        finetuned_80):
    _, _, history, net = finetuned_80
    left = pruning.prunable(arrays_of(pruned_80))
    now = pruning.prunable(net.parameters())
    assert now == left - sum(history["pruned"]) + sum(history["grown"])
    fixed = sum(net.parameters()[f"{name}.pre"].size for name in FIXED)
    assert history["synapses"][-1] == now + fixed
    assert len(history["synapses"]) == len(history["test_accuracy"]) == 4


def test_pruning_curves_draws_a_png(tmp_path):
    from nndl.plot import pruning_curves
    path = tmp_path / "pruning.png"
    pruning_curves([0.0, 0.8], [0.98, 0.9], [0.98, 0.97], path, removed_after=[0.01, 0.79],
                   synapses={0.0: [100, 99, 99], 0.8: [20, 21, 22]}, baseline=0.98, title="t")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pruning_curves([0.5], [0.9], [0.95], tmp_path / "plain.png")  # the optional parts left out
    assert (tmp_path / "plain.png").stat().st_size > 0
