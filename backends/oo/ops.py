"""The OO backend's op table: each activation as a scalar Python function, textbook style.

The NumPy backend's table (backends/numpy/ops.py) overrides these with array versions that use
the same formulas, so the two agree to rounding.
"""

ACTIVATIONS = {
    "identity": '''
def identity(x):
    return x
''',
    "relu": '''
def relu(x):
    return x if x > 0.0 else 0.0
''',
    "leaky_relu": '''
def leaky_relu(x, slope):
    return x if x > 0.0 else slope * x
''',
    "tanh": '''
def tanh(x):
    return math.tanh(x)
''',
    "sigmoid": '''
def sigmoid(x):
    e = math.exp(-abs(x))  # never overflows
    return 1.0 / (1.0 + e) if x >= 0.0 else e / (1.0 + e)
''',
    "softplus": '''
def softplus(x):
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))
''',
    "step": '''
def step(x):
    return 1.0 if x > 0.0 else 0.0
''',
    "softmax": '''
def softmax(xs):
    """Over a whole group's net inputs (shifted by the largest, so exp never overflows)."""
    top = max(xs)
    es = [math.exp(x - top) for x in xs]
    total = sum(es)
    return [e / total for e in es]
''',
}


def activation_call(group, argument: str) -> str:
    """The call that applies a group's activation to `argument`, e.g. `leaky_relu(x, 0.01)`."""
    extra = "".join(f", {value!r}" for value in group.params.values())
    return f"{group.activation}({argument}{extra})"
