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
    return x if x > 0.0 or x != x else 0.0  # NaN stays NaN, as in NumPy
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

# Scalar math as NumPy does it, for the model functions: outside its domain a function gives NaN
# and a result too large an infinity, where Python's `math` and `/` raise. Keyed by the
# expression IR's function or operator; `try` costs nothing until something fails.
MATH = {
    "sqrt": '''
def sqrt(x):
    return math.sqrt(x) if x >= 0.0 else math.nan
''',
    "log": '''
def log(x):
    if x > 0.0:
        return math.log(x)
    return -math.inf if x == 0.0 else math.nan
''',
    "exp": '''
def exp(x):
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf
''',
    "floor": '''
def floor(x):
    return float(math.floor(x)) if math.isfinite(x) else x
''',
    "ceil": '''
def ceil(x):
    return float(math.ceil(x)) if math.isfinite(x) else x
''',
    "min": '''
def minimum(a, b):
    return a if a <= b or a != a else b  # NaN if either is
''',
    "max": '''
def maximum(a, b):
    return a if a >= b or a != a else b  # NaN if either is
''',
    "**": '''
def power(x, y):
    try:
        return math.pow(x, y)
    except ValueError:  # a negative number to a fraction; 0 to a negative power is below
        if x != 0.0:
            return math.nan
    except OverflowError:
        pass
    # too large, or 1 / 0: an infinity, negative for an odd whole power of a negative number
    return math.copysign(math.inf, x) if y % 2.0 == 1.0 else math.inf
''',
    "/": '''
def divide(x, y):
    try:
        return x / y
    except ZeroDivisionError:  # an infinity signed by both, or NaN for 0 / 0 and NaN / 0
        if x == 0.0 or x != x:
            return math.nan
        return math.copysign(math.inf, x) * math.copysign(1.0, y)
''',
    "%": '''
def remainder(x, y):
    try:
        return x % y
    except ZeroDivisionError:
        return math.nan
''',
}


def activation_call(group, argument: str) -> str:
    """The call that applies a group's activation to `argument`, e.g. `leaky_relu(x, 0.01)`."""
    extra = "".join(f", {value!r}" for value in group.params.values())
    return f"{group.activation}({argument}{extra})"
