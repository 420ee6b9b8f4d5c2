"""The NumPy backend's op table: the OO table's formulas, vectorised over (batch, neurons), and
the sums over sparse synapses."""

from nndl.backends.oo.ops import ACTIVATIONS as SCALAR
from nndl.backends.oo.ops import activation_call

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
    "tied": '''
def tied(g, wiring, n_weights):
    """Per-synapse gradients summed onto the kernel entries they share (when tied)."""
    return g if wiring.tie is None else np.bincount(wiring.tie, g, n_weights).astype(g.dtype)
''',
    "synapses": '''
def synapse_grads(dnet, x, wiring, n_weights):
    """d loss / d each weight: dnet[:, post] * x[:, pre] summed over the batch (and, for a
    shared kernel, over the synapses tied to each entry)."""
    return tied(np.einsum("bi,bi->i", dnet[:, wiring.post], x[:, wiring.pre]), wiring, n_weights)


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

# The NumPy module's own layouts (a GPU backend that shares this lowering keeps the ones above):
# scipy's CSR products, whose weights are the weight vector itself, and stencils of shifted
# slices for maps of equal shape.
CPU_SUMS = {
    "drive": '''
def all_ticks(x, w):
    """x @ w.T for every tick at once, (ticks, batch, pre) -> (ticks, batch, post): one matrix
    product instead of one a tick (an input that is the same at every tick, once)."""
    if x.strides[0] == 0:
        return np.broadcast_to(x[0] @ w.T, x.shape[:2] + (w.shape[0],))
    return (x.reshape(-1, x.shape[-1]) @ w.T).reshape(x.shape[:2] + (w.shape[0],))
''',
    "csr": '''
def csr_sum(x, product, w=None):
    """CSR rows: target j sums w[i] * x[:, pre[i]] over its synapses i, as scipy's CSR x dense
    product on neuron-major arrays (nndl.runtime.layout.SparseProduct). `w`: tied weights to
    copy in first (else the matrix's data is the weight vector itself)."""
    if w is not None:
        product.matrix.data[...] = w
    return product.forward(x)
''',
    "stencil": '''
def stencil_sum(x, stencil, w):
    """Each tap (one offset between source and target) adds its weights times the source map
    shifted by that offset: one contiguous multiply-add per tap (see nndl.runtime.layout)."""
    padded, taps = stencil.pad(x), stencil.weight_map(w)
    start, span = stencil.start, stencil.span
    total, product = np.zeros_like(padded), np.empty((x.shape[0], span), dtype=x.dtype)
    for tap, delta in enumerate(stencil.deltas):
        np.multiply(padded[:, start + delta:start + delta + span], taps[tap], out=product)
        total[:, start:start + span] += product
    return stencil.unpad(total)
''',
}

CPU_BACKWARD = {
    "stacked": '''
def stacked(pairs):
    """(d loss / d net, the source's output) of every tick, stacked as one batch of samples:
    a weight gradient is then one product over the whole run."""
    if len(pairs) == 1:
        return pairs[0]
    return np.concatenate([d for d, _ in pairs]), np.concatenate([x for _, x in pairs])
''',
    "csr": '''
def csr_back(dnet, product):
    """d loss / d each source: the transposed product (scipy's CSC view of the same arrays)."""
    return product.backward(dnet)


def csr_grads(dnet, x, wiring, shape, n_weights):
    """d loss / d each weight, dnet[:, post] . x[:, pre] over every sample: where the synapses
    are 1/64 of the matrix or more, one BLAS product of the two and a pick beats gathering
    them; otherwise rows of the neuron-major arrays are gathered, a block at a time."""
    n_post, n_pre = shape
    if wiring.pre.size * 64 >= n_post * n_pre and n_post * n_pre <= 1 << 26:
        g = (dnet.T @ x).reshape(-1)[wiring.post * n_pre + wiring.pre]
    else:
        dnet_rows, x_rows = np.ascontiguousarray(dnet.T), np.ascontiguousarray(x.T)
        g = np.empty(wiring.pre.size, dtype=dnet.dtype)
        for s in range(0, g.size, 4096):
            block = slice(s, s + 4096)
            g[block] = np.einsum("ib,ib->i", dnet_rows[wiring.post[block]],
                                 x_rows[wiring.pre[block]])
    return tied(g, wiring, n_weights)
''',
    "stencil": '''
def stencil_back(dnet, stencil, w):
    """d loss / d each source: each tap sends its weights times dnet back by its offset."""
    padded, taps = stencil.pad(dnet), stencil.weight_map(w)
    start, span = stencil.start, stencil.span
    total, product = np.zeros_like(padded), np.empty((dnet.shape[0], span), dtype=dnet.dtype)
    for tap, delta in enumerate(stencil.deltas):
        np.multiply(padded[:, start:start + span], taps[tap], out=product)
        total[:, start + delta:start + delta + span] += product
    return stencil.unpad(total)


def stencil_grads(dnet, x, stencil, wiring, n_weights):
    """d loss / d each weight: per tap, dnet times the shifted source summed over the samples
    (one einsum a tap), then each synapse picks its tap and position."""
    padded, d = stencil.pad(x), stencil.pad(dnet)
    start, span = stencil.start, stencil.span
    g = np.empty((len(stencil.deltas), span), dtype=dnet.dtype)
    for tap, delta in enumerate(stencil.deltas):
        g[tap] = np.einsum("bi,bi->i", d[:, start:start + span],
                           padded[:, start + delta:start + delta + span])
    return tied(g.reshape(-1)[stencil.slot], wiring, n_weights)
''',
}

__all__ = ["ACTIVATIONS", "BACKWARD", "CPU_BACKWARD", "CPU_SUMS", "SPARSE_SUMS",
           "activation_call"]
