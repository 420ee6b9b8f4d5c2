"""The NumPy backend's op table: the OO table's formulas, vectorised over (batch, neurons)."""

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

__all__ = ["ACTIVATIONS", "activation_call"]
