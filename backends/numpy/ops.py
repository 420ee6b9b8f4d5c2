"""The NumPy backend's op table: the OO table's formulas, vectorised over (batch, neurons), and
the sums over sparse synapses."""

from nndl.backends.oo.ops import ACTIVATIONS as SCALAR, activation_call

ACTIVATIONS = {
    **SCALAR,
    "relu": '''
def relu(x):
    return np.maximum(x, 0.0)
''',
    "leaky_relu": '''
def leaky_relu(x, slope):
    return np.where(x > 0.0, x, slope * x)
''',
    "tanh": '''
def tanh(x):
    return np.tanh(x)
''',
    "sigmoid": '''
def sigmoid(x):
    e = np.exp(-np.abs(x))  # never overflows
    return np.where(x >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))
''',
    "softplus": '''
def softplus(x):
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))
''',
    "step": '''
def step(x):
    return (x > 0.0).astype(x.dtype)
''',
    "softmax": '''
def softmax(x):
    """Over each sample's neurons (the last axis), shifted by the largest so exp never overflows."""
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
''',
}

# How each kind of projection adds into its target's net input; the helpers each kind needs.
SPARSE_SUMS = {
    "gather": '''
def gather_sum(x, layout, w):
    """Padded rows: target j sums w[slots[j, k]] * x[:, sources[j, k]] over k (pads weigh 0)."""
    sources, slots = layout
    padded = np.append(w, np.zeros(1, dtype=w.dtype))  # not 0.0: that would promote float32
    return np.einsum("bjk,jk->bj", x[:, sources], padded[slots])
''',
    "csr": '''
def csr_sum(x, layout, w):
    """CSR rows: target j sums w[i] * x[:, pre[i]] over its synapses i."""
    pre, pointers = layout
    return segment_sum(x[:, pre] * w, pointers[:-1], pointers.size - 1)
''',
    "rows": '''
def rows_sum(x, pre, w, segment):
    """One level's rows: each sums w * x[:, pre] over its run of the synapses (see level_plan)."""
    positions, starts = segment
    return segment_sum(x[:, pre[positions]] * w[positions], starts, starts.size)
''',
    "segment": '''
def segment_sum(values, starts, rows):
    """Sums of consecutive runs of columns: run i starts at starts[i] (empty runs give 0)."""
    total = np.zeros((values.shape[0], rows), dtype=values.dtype)
    ends = np.append(starts[1:], values.shape[1])
    nonempty = np.flatnonzero(ends > starts)
    if nonempty.size:
        total[:, nonempty] = np.add.reduceat(values, starts[nonempty], axis=1)
    return total
''',
}

# Backpropagation through the same layouts: what a sparse projection gives its weights and sends
# back to its source, and softmax's Jacobian.
BACKWARD = {
    "softmax": '''
def softmax_backward(out, g_out):
    """d loss / d net of a softmax group, from d loss / d out: out * (g_out - <g_out, out>)."""
    return out * (g_out - (g_out * out).sum(axis=-1, keepdims=True))
''',
    "synapses": '''
def synapse_grads(dnet, x, wiring, n_weights):
    """d loss / d each weight: dnet[:, post] * x[:, pre] summed over the batch (and, for a
    shared kernel, over the synapses tied to each entry)."""
    g = np.einsum("bi,bi->i", dnet[:, wiring.post], x[:, wiring.pre])
    return g if wiring.tie is None else np.bincount(wiring.tie, g, n_weights).astype(g.dtype)


def spread_back(dnet, w, wiring, back):
    """d loss / d each source neuron: w * dnet[:, post] summed over its outgoing synapses
    (`back` orders the synapses by source, see nndl.runtime.layout.source_order)."""
    order, pointers = back
    return segment_sum((dnet[:, wiring.post] * w)[:, order], pointers[:-1], pointers.size - 1)
''',
    "rows": '''
def rows_backward(dnet, x, g_x, wiring, w, positions, g_w):
    """One level of a neuron-level step, backwards: the synapses at `positions` add to their
    weights' gradients and send dnet back to their sources (earlier levels) in `g_x`."""
    pre, post = wiring.pre[positions], wiring.post[positions]
    upstream = dnet[:, post]
    g_w[positions] += np.einsum("bi,bi->i", upstream, x[:, pre])
    np.add.at(g_x, (slice(None), pre), upstream * w[positions])
''',
}

__all__ = ["ACTIVATIONS", "BACKWARD", "SPARSE_SUMS", "activation_call"]
