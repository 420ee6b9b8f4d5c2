"""PyTorch as a peer: an MLP declared in NNDL, its weight file opened in PyTorch, and the
outputs, the losses (PyTorch's definitions, DESIGN.md Training) and every gradient compared in
float64."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

MLP = """
network mlp {
    seed 11
    input  image[8, 8]
    group  hidden[12] : tanh   bias 0.1
    output label[5]   : softmax
    connect image  -> hidden : full weight normal(0, 0.3)
    connect hidden -> label  : full
    connect image  -> label  : full as skip      # a skip link
}
"""

# The same network with sparse rules: the weight file's synapse lists, scattered into matrices.
SPARSE = MLP.replace("image  -> hidden : full", "image  -> hidden : random(p=0.4)") \
            .replace("image  -> label  : full", "image  -> label  : where(pre.index % 5 == "
                                                "post.index)")

TOLERANCE = 1e-10
BATCH = 7


def torch_network(path, spec):
    """The weight file as PyTorch tensors that require gradients: one dense (post, pre) matrix
    per projection, built from NAME.pre / NAME.post / NAME.w, and each group's bias."""
    arrays = np.load(path, allow_pickle=False)
    matrices = {}
    for p in spec.projections:
        src, dst = spec.group(p.src), spec.group(p.dst)
        w = np.zeros((dst.size, src.size))
        w[arrays[f"{p.name}.post"], arrays[f"{p.name}.pre"]] = arrays[f"{p.name}.w"]
        matrices[p.name] = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    biases = {g.name: torch.tensor(arrays[f"{g.name}.bias"], dtype=torch.float64,
                                   requires_grad=True) for g in spec.groups if g.bias}
    return matrices, biases, arrays


def torch_forward(matrices, biases, image):
    x = torch.tensor(image.reshape(len(image), -1), dtype=torch.float64)
    hidden = torch.tanh(biases["hidden"] + x @ matrices["image->hidden"].T)
    logits = biases["label"] + hidden @ matrices["hidden->label"].T + x @ matrices["skip"].T
    return logits


def synapse_gradients(matrices, arrays, name):
    """d loss / d each synapse of the file, in its (CSR) order."""
    grad = matrices[name].grad.numpy()
    return grad[arrays[f"{name}.post"], arrays[f"{name}.pre"]]


def assert_close(actual, expected, what):
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected)
    scale = max(1.0, float(np.max(np.abs(expected))))
    assert actual.shape == expected.shape, what
    assert float(np.max(np.abs(actual - expected))) <= TOLERANCE * scale, what


@pytest.fixture(params=[MLP, SPARSE], ids=["full", "sparse"])
def peers(request, compile_text, backend, tmp_path):
    net = compile_text(request.param, backend).Network(dtype="float64")
    path = tmp_path / "mlp.npz"
    net.save(path)
    rng = np.random.default_rng(5)
    image = rng.uniform(0.0, 1.0, size=(BATCH, 8, 8))
    matrices, biases, arrays = torch_network(path, net.SPEC)
    return net, image, matrices, biases, arrays, rng


@pytest.mark.parametrize("targets", ["indices", "probabilities"])
def test_cross_entropy_matches_pytorch(peers, targets):
    net, image, matrices, biases, arrays, rng = peers
    if targets == "indices":
        labels = rng.integers(0, 5, size=BATCH)
        torch_target = torch.tensor(labels)
    else:
        labels = rng.dirichlet(np.ones(5), size=BATCH)
        torch_target = torch.tensor(labels, dtype=torch.float64)

    logits = torch_forward(matrices, biases, image)
    loss = torch.nn.CrossEntropyLoss()(logits, torch_target)
    loss.backward()

    assert_close(net.run(image=image)["label"], torch.softmax(logits, dim=1).detach().numpy(),
                 "outputs")
    value, grads = net.loss_and_grad({"image": image}, {"label": labels}, loss="cross_entropy")
    assert abs(value - loss.item()) <= TOLERANCE * max(1.0, abs(loss.item()))
    check_gradients(net, grads, matrices, biases, arrays)


def test_mse_on_the_softmax_outputs_matches_pytorch(peers):
    net, image, matrices, biases, arrays, rng = peers
    wanted = rng.normal(0.0, 0.5, size=(BATCH, 5))
    logits = torch_forward(matrices, biases, image)
    loss = torch.nn.MSELoss()(torch.softmax(logits, dim=1),
                              torch.tensor(wanted, dtype=torch.float64))
    loss.backward()
    value, grads = net.loss_and_grad({"image": image}, {"label": wanted}, loss="mse")
    assert abs(value - loss.item()) <= TOLERANCE * max(1.0, abs(loss.item()))
    check_gradients(net, grads, matrices, biases, arrays)


def check_gradients(net, grads, matrices, biases, arrays):
    expected_keys = {f"{p.name}.w" for p in net.SPEC.projections} | {"hidden.bias",
                                                                     "label.bias"}
    assert set(grads) == expected_keys
    for p in net.SPEC.projections:
        assert_close(grads[f"{p.name}.w"], synapse_gradients(matrices, arrays, p.name), p.name)
    for name, bias in biases.items():
        assert_close(grads[f"{name}.bias"], bias.grad.numpy(), f"{name}.bias")
    # absent synapses are not parameters: the sparse file has fewer than the dense matrices
    assert sum(g.size for g in grads.values()) == sum(
        arrays[f"{p.name}.w"].size for p in net.SPEC.projections) + 12 + 5


OPTIMIZERS = [  # (NNDL's optimizer, torch's class and arguments)
    (("adam", {"lr": 0.01}), ("Adam", {"lr": 0.01})),
    (("adam", {"lr": 0.01, "weight_decay": 0.1}), ("Adam", {"lr": 0.01, "weight_decay": 0.1})),
    (("adamw", {"lr": 0.01}), ("AdamW", {"lr": 0.01})),
    (("adamw", {"lr": 0.01, "weight_decay": 0.5}), ("AdamW", {"lr": 0.01, "weight_decay": 0.5})),
    (("sgd", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.2}),
     ("SGD", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.2})),
]


@pytest.mark.parametrize("ours, theirs", OPTIMIZERS, ids=lambda o: f"{o[0]}{o[1]}")
def test_an_optimizer_step_matches_pytorch(compile_text, backend, tmp_path, ours, theirs):
    """One fit epoch of one batch is one step of the torch.optim optimiser on the same loss."""
    net = compile_text(MLP, backend).Network(dtype="float64")
    path = tmp_path / "mlp.npz"
    net.save(path)
    rng = np.random.default_rng(8)
    image, labels = rng.uniform(size=(BATCH, 8, 8)), rng.integers(0, 5, size=BATCH)
    matrices, biases, arrays = torch_network(path, net.SPEC)
    optimizer = getattr(torch.optim, theirs[0])([*matrices.values(), *biases.values()],
                                                **theirs[1])
    for _ in range(3):
        optimizer.zero_grad()
        torch.nn.CrossEntropyLoss()(torch_forward(matrices, biases, image),
                                    torch.tensor(labels)).backward()
        optimizer.step()
    net.fit({"image": image}, {"label": labels}, epochs=3, batch=BATCH, loss="cross_entropy",
            optimizer=ours, progress=False)
    trained = net.parameters()
    for p in net.SPEC.projections:
        w = matrices[p.name].detach().numpy()[arrays[f"{p.name}.post"], arrays[f"{p.name}.pre"]]
        assert_close(trained[f"{p.name}.w"], w, p.name)
    for name, bias in biases.items():
        assert_close(trained[f"{name}.bias"], bias.detach().numpy(), name)
