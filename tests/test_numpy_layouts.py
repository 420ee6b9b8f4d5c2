"""The NumPy module's own layouts (stencils of shifted slices, scipy CSR products, weight
gradients over all ticks at once) compute what the OO backend, the specification, computes."""

import numpy as np
import pytest
from conftest import write_source
from nndl.backends.numpy.lower import kind
from nndl.commands.cli import main

MAPS = """
network maps {
    seed 1
    input  img[14, 12]
    group  a[14, 12] : tanh
    group  b[14, 12] : tanh
    group  c[14, 12] : sigmoid
    group  d[7, 6]   : relu
    output y[3]      : softmax
    connect img -> a : local(radius=1.5)
    connect a   -> b : local(radius=1, metric=chebyshev, shared=true)
    connect b   -> c : local(radius=2, metric=manhattan)
    connect a   -> c : random(p=0.3) delay 1
    connect c   -> c : local(radius=1, wrap=true) delay 1
    connect c   -> d : local(radius=1)
    connect d   -> y : full
    connect c   -> y : where(pre.index % 5 == 0)
}
"""


def test_each_projection_gets_the_layout_for_its_shape(compile_text):
    spec = compile_text(MAPS, "numpy").SPEC
    assert {p.name: kind(spec, p) for p in spec.projections} == {
        "img->a": "stencil", "a->b": "stencil", "b->c": "stencil", "a->c": "csr",
        "c->c": "gather", "c->d": "gather", "d->y": "dense", "c->y": "csr"}


# grids of one and three axes (`local(..., axes=K)`): a stencil where both groups have one
# shape, the gather otherwise (other sizes, wrap, or a frame more than twice the map)
SIGNALS = """
network signals {
    seed 2
    input  wave[40]
    group  a[40]    : tanh
    group  b[40]    : tanh
    group  f[3, 40] : relu
    group  g[3, 40] : tanh
    output y[3]     : softmax
    connect wave -> a : local(radius=2)
    connect a    -> b : local(radius=1, metric=chebyshev, shared=true, axes=1)
    connect a    -> f : local(radius=1, metric=manhattan, shared=true)
    connect f    -> g : local(radius=1, shared=true, axes=1)
    connect b    -> b : local(radius=1, wrap=true, axes=1) delay 1
    connect g    -> y : full
    connect b    -> y : full
}
"""
VOLUMES = """
network volumes {
    seed 3
    input  clip[8, 8, 8]
    group  a[8, 8, 8]    : tanh
    group  b[8, 8, 8]    : tanh
    group  c[2, 8, 8, 8] : relu
    output y[3]          : softmax
    connect clip -> a : local(radius=1, axes=3)
    connect a    -> b : local(radius=1, metric=chebyshev, shared=true, axes=3)
    connect a    -> c : local(radius=1.5, metric=manhattan, shared=true, axes=3)
    connect b    -> b : local(radius=1, wrap=true, axes=3) delay 1
    connect c    -> y : full
    connect b    -> y : full
}
"""
LAYOUTS = {
    "signals": {"wave->a": "stencil", "a->b": "stencil", "a->f": "gather", "f->g": "stencil",
                "b->b": "gather", "g->y": "dense", "b->y": "dense"},
    "volumes": {"clip->a": "stencil", "a->b": "stencil", "a->c": "gather", "b->b": "gather",
                "c->y": "dense", "b->y": "dense"},
}


@pytest.mark.parametrize("text", [SIGNALS, VOLUMES], ids=["1-D", "3-D"])
def test_grids_of_one_and_three_axes_get_stencils_where_the_shapes_match(text, compile_text):
    spec = compile_text(text, "numpy").SPEC
    assert {p.name: kind(spec, p) for p in spec.projections} == LAYOUTS[spec.name]


def test_nndlc_ir_shows_the_layouts_of_a_volume_in_both_backends(tmp_path, capsys):
    """The NumPy module's stencil needs one shape and no wrap; the GPU's needs one grid."""
    assert main(["ir", str(write_source(VOLUMES, tmp_path))]) == 0
    listed = {line.split()[0]: line[line.index("numpy: "):]
              for line in capsys.readouterr().out.splitlines() if "numpy: " in line}
    assert listed == {"clip->a": "numpy: stencil; cupy: stencil",
                      "a->b": "numpy: stencil; cupy: stencil",
                      "a->c": "numpy: gather; cupy: stencil",
                      "b->b": "numpy: gather; cupy: stencil",
                      "c->y": "numpy: dense; cupy: dense", "b->y": "numpy: dense; cupy: dense"}


def agree_with_the_oo_backend(compile_text, text: str, x: dict, y: dict) -> None:
    """Loss and every gradient of the NumPy module as the OO backend's, in float64."""
    nets = [compile_text(text, b).Network(seed=0, dtype="float64") for b in ("numpy", "oo")]
    (loss, grads), (want, wanted) = [n.loss_and_grad(x, y, every_tick=True,
                                                     loss="cross_entropy") for n in nets]
    assert abs(loss - want) < 1e-12
    assert grads.keys() == wanted.keys()
    for name in grads:
        np.testing.assert_allclose(grads[name], wanted[name], atol=1e-12, err_msg=name)


@pytest.mark.parametrize("text, shape", [(SIGNALS, (40,)), (VOLUMES, (8, 8, 8))],
                         ids=["1-D", "3-D"])
def test_stencils_of_one_and_three_axes_agree_with_the_oo_backend(text, shape, compile_text):
    x = np.random.default_rng(5).normal(size=(2, 3) + shape)
    inputs = {"wave" if len(shape) == 1 else "clip": x}
    agree_with_the_oo_backend(compile_text, text, inputs, {"y": np.array([0, 2, 1])})


def test_stencils_and_sparse_products_agree_with_the_oo_backend(compile_text):
    nets = [compile_text(MAPS, b).Network(seed=0, dtype="float64") for b in ("numpy", "oo")]
    x = np.random.default_rng(1).normal(size=(3, 4, 14, 12))
    y = np.array([0, 2, 1, 1])
    (loss, grads), (want, wanted) = [n.loss_and_grad({"img": x}, {"y": y}, every_tick=True,
                                                     loss="cross_entropy") for n in nets]
    assert abs(loss - want) < 1e-12
    assert grads.keys() == wanted.keys()
    for name in grads:
        np.testing.assert_allclose(grads[name], wanted[name], atol=1e-12, err_msg=name)


def test_the_csr_matrix_follows_the_weights_an_optimiser_updates(compile_text):
    net = compile_text(MAPS, "numpy").Network(seed=0)
    x = np.random.default_rng(2).normal(size=(2, 5, 14, 12)).astype(np.float32)
    before = net.run(img=x)["y"]
    net._trainable()["a->c.w"][:] *= 2.0  # in place, as the optimisers do
    assert not np.allclose(net.run(img=x)["y"], before)
    fresh = compile_text(MAPS, "numpy").Network(seed=0)
    params = net.parameters()
    np.testing.assert_array_equal(params["a->c.w"], fresh.parameters()["a->c.w"] * 2.0)


STEP = """
network step {
    seed 4
    input  x[5]
    group  a[12] : tanh
    group  b[12] : leaky_relu(slope=0.1)
    output y[3]  : identity
    connect x -> a : full
    connect a -> b : one_to_one
    connect b -> a : where(pre.index < post.index)
    connect a -> a : fan_in(k=3, where=pre.index < post.index)
    connect b -> y : full
}
"""


# a[0..2] have fewer than 3 earlier neurons: fan_in gives them all they have, as it should
@pytest.mark.filterwarnings("ignore:.*fewer than k=3 candidate sources")
def test_a_neuron_level_step_of_two_groups_agrees_with_the_oo_backend(compile_text):
    nets = [compile_text(STEP, b).Network(seed=0, dtype="float64") for b in ("numpy", "oo")]
    x = np.random.default_rng(3).normal(size=(6, 5))
    y = np.random.default_rng(4).normal(size=(6, 3))
    np.testing.assert_allclose(nets[0].run(x=x)["y"], nets[1].run(x=x)["y"], atol=1e-12)
    (loss, grads), (want, wanted) = [n.loss_and_grad({"x": x}, {"y": y}, loss="mse")
                                     for n in nets]
    assert abs(loss - want) < 1e-12
    for name in grads:
        np.testing.assert_allclose(grads[name], wanted[name], atol=1e-12, err_msg=name)

