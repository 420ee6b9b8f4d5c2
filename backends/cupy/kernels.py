"""The CuPy backend's CUDA C: expressions rendered from the C-style op table, and the kernels
of one network (activations, slopes, neuron models and their backward ticks, sums over sparse
synapses).

Every kernel is written for `real` (the network's dtype, fixed when the module compiles the
source) and one thread per output element, with no shared memory and no barriers, so the same
text also builds as host C++ (tests/cuda_emulation.py) and can be checked on a machine without
a GPU. Model variables become `v_NAME` (and a rule's `post.X` `n_post_X`): never a C keyword,
a macro or one of the kernels' own locals; the arrays they come from are `in_v_NAME`.
"""

from __future__ import annotations

from nndl.backends.codegen import number, quoted_text
from nndl.backends.cupy.stencils import STENCILS
from nndl.backends.render import (
    ScalarPython,
    backward_of,
    model_backward_name,
    model_function_name,
    slope_name,
)

from nndl.ir import expr as e
from nndl import ir
from nndl.ir.reverse import activation_slope

# What every network's source starts with: the element type comes first (see nndl.runtime.cuda),
# then the math helpers whose NumPy meaning C's own functions do not have.
PRELUDE = '''
#ifndef NNDL_HOST
#define NNDL_INF __longlong_as_double(0x7ff0000000000000LL)
#define NNDL_NAN __longlong_as_double(0x7ff8000000000000LL)
#endif

// one thread per element: its index, and how many there are to do
#define NNDL_THREAD ((long long)blockIdx.x * blockDim.x + threadIdx.x)

// NumPy's minimum, maximum and remainder: NaN wins; the remainder takes the divisor's sign
__device__ inline real nndl_min(real a, real b) { return (a < b || a != a) ? a : b; }
__device__ inline real nndl_max(real a, real b) { return (a > b || a != a) ? a : b; }
__device__ inline real nndl_mod(real a, real b) {
    real m = fmod(a, b);
    return (m != 0 && ((b < 0) != (m < 0))) ? m + b : m;
}
__device__ inline real nndl_relu(real x) { return nndl_max(x, (real)0); }
__device__ inline real nndl_step(real x) { return x > 0 ? (real)1 : (real)0; }
__device__ inline real nndl_sigmoid(real x) {
    real e = exp(-fabs(x));  // never overflows
    return x >= 0 ? 1 / (1 + e) : e / (1 + e);
}

// rand() and randn(): Philox4x32-10 (Random123) and the word-to-number rules of
// nndl.runtime.philox, bit for bit: key (seed, crc32 of the group), counter (neuron, tick,
// call site, sample)
__device__ inline void nndl_philox(unsigned int c[4], unsigned int k0, unsigned int k1) {
    for (int round = 0; round < 10; ++round) {
        unsigned long long p0 = 0xD2511F53ull * c[0], p1 = 0xCD9E8D57ull * c[2];
        unsigned int c0 = (unsigned int)(p1 >> 32) ^ c[1] ^ k0;
        unsigned int c2 = (unsigned int)(p0 >> 32) ^ c[3] ^ k1;
        c[0] = c0; c[1] = (unsigned int)p1; c[2] = c2; c[3] = (unsigned int)p0;
        k0 += 0x9E3779B9u; k1 += 0xBB67AE85u;
    }
}
__device__ inline real nndl_uniform(unsigned int first, unsigned int second) {
    if (sizeof(real) == 4) return (real)(first >> 8) * (real)5.9604644775390625e-08;  // 2^-24
    return (real)(((double)(first >> 5) * 67108864.0 + (double)(second >> 6)) *
                  1.1102230246251565e-16);  // 2^-53
}
__device__ inline void nndl_block(unsigned int c[4], long long k0, long long k1,
        long long neuron, long long tick, unsigned int site, long long sample) {
    c[0] = (unsigned int)neuron; c[1] = (unsigned int)tick; c[2] = site;
    c[3] = (unsigned int)sample;
    nndl_philox(c, (unsigned int)k0, (unsigned int)k1);
}
__device__ inline real nndl_rand(long long k0, long long k1, long long neuron, long long tick,
        unsigned int site, long long sample) {
    unsigned int c[4];
    nndl_block(c, k0, k1, neuron, tick, site, sample);
    return nndl_uniform(c[0], c[1]);
}
__device__ inline real nndl_randn(long long k0, long long k1, long long neuron, long long tick,
        unsigned int site, long long sample) {
    unsigned int c[4];
    nndl_block(c, k0, k1, neuron, tick, site, sample);
    bool single = sizeof(real) == 4;  // float32: u1, u2 from words 0, 1; else (0, 1), (2, 3)
    real u1 = single ? nndl_uniform(c[0], 0) : nndl_uniform(c[0], c[1]);
    real u2 = single ? nndl_uniform(c[1], 0) : nndl_uniform(c[2], c[3]);
    return sqrt((real)-2 * log((real)1 - u1)) * cos((real)6.283185307179586 * u2);
}
'''

# Sums over a projection's synapses: forward into the target, backward into the weights and the
# source. Arrays are (batch, neurons), row-major; index arrays are int64.
SUMS = {
    "gather_sum": '''
// padded rows (ELL): target j sums w[slots[j, c]] * x[b, sources[j, c]]; slots >= n_w are pads
extern "C" __global__ void gather_sum(long long batch, long long rows, long long width,
        long long n_x, long long n_w, const real* x, const long long* sources,
        const long long* slots, const real* w, real* total) {
    long long k = NNDL_THREAD;
    if (k >= batch * rows) return;
    long long b = k / rows, j = k % rows;
    real sum = 0;
    for (long long c = j * width; c < (j + 1) * width; ++c)
        if (slots[c] < n_w) sum += w[slots[c]] * x[b * n_x + sources[c]];
    total[k] = sum;
}
''',
    "event_sum": '''
// spikes (0 or 1): thread (b, i) does nothing unless source i fired in sample b; then it adds
// the weight of each of its synapses to its target (row i of the source-major table; pads aim
// at target n_post, which does not exist)
extern "C" __global__ void event_sum(long long batch, long long n_pre, long long n_post,
        long long width, const real* x, const long long* targets, const long long* slots,
        const real* w, real* total) {
    long long k = NNDL_THREAD;
    if (k >= batch * n_pre || x[k] == 0) return;
    long long b = k / n_pre, i = k % n_pre;
    for (long long c = i * width; c < (i + 1) * width; ++c)
        if (targets[c] < n_post) atomicAdd(&total[b * n_post + targets[c]], w[slots[c]]);
}
''',
    "csr_sum": '''
// CSR rows: target j sums w[i] * x[b, pre[i]] over its synapses i
extern "C" __global__ void csr_sum(long long batch, long long rows, long long n_x,
        const real* x, const long long* pre, const long long* pointers, const real* w,
        real* total) {
    long long k = NNDL_THREAD;
    if (k >= batch * rows) return;
    long long b = k / rows, j = k % rows;
    real sum = 0;
    for (long long i = pointers[j]; i < pointers[j + 1]; ++i) sum += w[i] * x[b * n_x + pre[i]];
    total[k] = sum;
}
''',
    "rows_sum": '''
// one level of a neuron-level step: row r sums w[p] * x[b, pre[p]] over its run of positions p
extern "C" __global__ void rows_sum(long long batch, long long rows, long long n_x,
        long long n_positions, const real* x, const long long* pre, const real* w,
        const long long* positions, const long long* starts, real* total) {
    long long k = NNDL_THREAD;
    if (k >= batch * rows) return;
    long long b = k / rows, r = k % rows;
    long long end = r + 1 < rows ? starts[r + 1] : n_positions;
    real sum = 0;
    for (long long q = starts[r]; q < end; ++q) {
        long long p = positions[q];
        sum += w[p] * x[b * n_x + pre[p]];
    }
    total[k] = sum;
}
''',
    "synapse_grads": '''
// d loss / d the weight of synapse i: dnet[b, post[i]] * x[b, pre[i]] summed over the batch
extern "C" __global__ void synapse_grads(long long batch, long long n_synapses,
        long long n_post, long long n_x, const real* dnet, const real* x,
        const long long* pre, const long long* post, real* grad) {
    long long i = NNDL_THREAD;
    if (i >= n_synapses) return;
    real sum = 0;
    for (long long b = 0; b < batch; ++b) sum += dnet[b * n_post + post[i]] * x[b * n_x + pre[i]];
    grad[i] = sum;
}
''',
    "spread_back": '''
// d loss / d source neuron s: w * dnet[b, post] over its outgoing synapses (sorted by source,
// so each thread owns one source and no two threads write the same place)
extern "C" __global__ void spread_back(long long batch, long long n_src, long long n_post,
        const real* dnet, const real* w, const long long* post, const long long* order,
        const long long* pointers, real* g_x) {
    long long k = NNDL_THREAD;
    if (k >= batch * n_src) return;
    long long b = k / n_src, s = k % n_src;
    real sum = 0;
    for (long long q = pointers[s]; q < pointers[s + 1]; ++q) {
        long long i = order[q];
        sum += w[i] * dnet[b * n_post + post[i]];
    }
    g_x[k] = sum;
}
''',
    "rows_backward": '''
// one level backwards: the synapses at `positions` add to their weights' gradients and send
// dnet back to their sources (earlier levels of the same step, so other threads may share one)
extern "C" __global__ void rows_backward(long long batch, long long n_positions,
        long long n_post, long long n_x, const real* dnet, const real* x, const real* w,
        const long long* pre, const long long* post, const long long* positions, real* g_x,
        real* g_w) {
    long long k = NNDL_THREAD;
    if (k >= batch * n_positions) return;
    long long b = k / n_positions, p = positions[k % n_positions];
    real upstream = dnet[b * n_post + post[p]];
    atomicAdd(&g_w[p], upstream * x[b * n_x + pre[p]]);
    atomicAdd(&g_x[b * n_x + pre[p]], upstream * w[p]);
}
''',
    **STENCILS,  # `local` between groups of one grid
}


class CudaC(ScalarPython):
    """Renders for one element of an array in CUDA C: `real` arithmetic, NumPy's meaning."""

    functions = {
        "abs": "fabs({})", "min": "nndl_min({}, {})", "max": "nndl_max({}, {})",
        "exp": "exp({})", "log": "log({})", "sqrt": "sqrt({})", "floor": "floor({})",
        "ceil": "ceil({})", "clip": "nndl_min(nndl_max({}, {}), {})", "tanh": "tanh({})",
        "sigmoid": "nndl_sigmoid({})", "relu": "nndl_relu({})", "step": "nndl_step({})",
    }
    binary = {**ScalarPython.binary, "/": "{} / {}", "%": "nndl_mod({}, {})",
              "**": "pow((real)({}), (real)({}))", "and": "{} && {}", "or": "{} || {}"}
    plain = {"/": "{} / {}", "%": "nndl_mod({}, {})"}  # C's own arithmetic is NumPy's

    def number(self, value: float) -> str:
        text = number(value)
        if text.startswith("float("):
            return "NNDL_NAN" if "nan" in text else ("-NNDL_INF" if "-" in text else "NNDL_INF")
        return f"(real){text}"

    def _render(self, node: e.Expr) -> tuple[str, int]:
        if isinstance(node, e.Bool):
            return ("1" if node.value else "0"), 9
        if isinstance(node, e.Num):  # a cast binds tighter than any operator but the call
            return f"({self.number(node.value)})", 9
        return super()._render(node)

    def unary(self, node: e.Unary) -> tuple[str, int]:
        if node.op == "num":
            return f"(real)({self.render(node.operand)})", 9
        if node.op == "not":
            return f"!({self.render(node.operand)})", 9
        return super().unary(node)

    def binary_op(self, node: e.Binary) -> tuple[str, int]:
        text, _ = super().binary_op(node)
        return f"({text})", 9  # C's precedence differs from Python's: always parenthesise

    def conditional(self, node: e.IfElse) -> tuple[str, int]:
        cond, then, other = (self.render(n) for n in (node.cond, node.then, node.other))
        return f"(({cond}) ? (real)({then}) : (real)({other}))", 9

    def draw(self, node: e.Draw) -> str:
        # the kernel's own locals and scalars (see elementwise_kernel): never a `v_` name
        return (f"nndl_{node.kind}(noise_key0, noise_key1, noise_neuron, noise_tick, "
                f"{node.site}u, noise_sample)")


def c_name(name: str) -> str:
    """`v_NAME` (see the module docstring); a rule's `pre.X` / `post.X` is `n_pre_X` /
    `n_post_X`: the two prefixes never meet, so no variable can take another's name."""
    side, dot, var = name.partition(".")
    return f"n_{side}_{var}" if dot else f"v_{name}"


def _live(statements: list[tuple[str, e.Expr]], results: list[str | None]) -> list:
    """The statements whose values reach a result (a backward tick replays values that its
    gradients may not read)."""
    live, kept = {r for r in results if r}, []
    for target, node in reversed(statements):
        if target in live:
            kept.append((target, node))
            live = (live - {target}) | e.variables(node)
    return kept[::-1]


# A model parameter in a kernel: one value for all (count 1) or one per column of the (batch,
# columns) arrays, i.e. per neuron (count = columns; rows of a neuron-level step pick theirs).
HELD = "in_{0}[count_{0} == 1 ? 0 : i % count_{0}]"

# What a kernel that draws takes after its parameters (Kernels.map's `noise`): the columns of
# its (batch, columns) arrays, each column's neuron, the Philox key and the tick.
NOISE_PARAMS = ["long long noise_columns", "const long long* noise_neurons",
                "long long noise_key0", "long long noise_key1", "long long noise_tick"]
# A kernel over visits (a rule block's: Kernels.visit) draws for each element's own synapse
# and sample, given one by one.
VISIT_NOISE_PARAMS = ["const long long* noise_neurons", "const long long* noise_samples",
                      "long long noise_key0", "long long noise_key1", "long long noise_tick"]


def elementwise_kernel(name: str, arrays: list[str], params: list[str],
                       statements: list[tuple[str, e.Expr]], results: list[str | None],
                       comment: str, draws: bool = False, held=(), visits: bool = False) -> str:
    """A kernel `name(n, *arrays, *params, [*NOISE_PARAMS,] *results)`: each thread reads its
    element of every array, runs the statements in order and writes its element of every
    result (None: 0). One that `draws` knows its element's neuron and sample: from its place
    in the (batch, columns) arrays, or given per element (`visits`: VISIT_NOISE_PARAMS). The
    parameters in `held` (a neuron model's) come as values and their number (HELD)."""
    statements = _live(statements, results)
    names = {v: c_name(v) for v in [*arrays, *params, *(t for t, _ in statements)]}
    writer = CudaC(names)
    scalars = [part for p in params for part in
               ([f"const real* in_{names[p]}", f"long long count_{names[p]}"] if p in held
                else [f"real {names[p]}"])]
    noise = (VISIT_NOISE_PARAMS if visits else NOISE_PARAMS) if draws else []
    signature = ["long long n", *(f"const real* in_{names[a]}" for a in arrays),
                 *scalars, *noise, *(f"real* result{i}" for i in range(len(results)))]
    lines = [f"// {comment}", f'extern "C" __global__ void {name}(']
    lines += [f"        {part}," for part in signature[:-1]] + [f"        {signature[-1]}) {{"]
    lines += ["    long long i = NNDL_THREAD;", "    if (i >= n) return;"]
    if draws and visits:
        lines += ["    long long noise_sample = noise_samples[i];",
                  "    long long noise_neuron = noise_neurons[i];"]
    elif draws:  # arrays are (batch, columns), row-major: a row is a sample
        lines += ["    long long noise_sample = i / noise_columns;",
                  "    long long noise_neuron = noise_neurons[i % noise_columns];"]
    read = set(results).union(*(e.variables(node) for _, node in statements))
    lines += [f"    real {names[a]} = in_{names[a]}[i];" for a in arrays if a in read]
    lines += [f"    real {names[p]} = {HELD.format(names[p])};" for p in params
              if p in held and p in read]
    temporaries = [t for t in dict.fromkeys(t for t, _ in statements)
                   if t not in arrays and t not in params]
    lines += [f"    real {names[t]} = 0;" for t in temporaries]
    lines += [f"    {names[t]} = (real)({writer.render(node)});" for t, node in statements]
    lines += [f"    result{i}[i] = {names[r] if r else '0'};" for i, r in enumerate(results)]
    return "\n".join(lines + ["}"])


# Each activation of one element `x` (leaky_relu's slope is the kernel's scalar `v_slope`).
ACTIVATION_FORMULAS = {
    "relu": "nndl_relu(x)", "leaky_relu": "x > 0 ? x : v_slope * x", "tanh": "tanh(x)",
    "sigmoid": "nndl_sigmoid(x)", "step": "nndl_step(x)",
    "softplus": "nndl_max(x, (real)0) + log1p(exp(-fabs(x)))",
}


def activation_kernel(activation: str) -> str:
    return f"activation_{activation}"  # not `tanh`: that is C's own function


def _activation_source(activation: str) -> str:
    slope = ", real v_slope" if activation == "leaky_relu" else ""
    return "\n".join([
        f"// {activation}, elementwise",
        (f'extern "C" __global__ void {activation_kernel(activation)}(long long n, '
         f"const real* x_in{slope}, real* result0) {{"),
        "    long long i = NNDL_THREAD;", "    if (i >= n) return;",
        "    real x = x_in[i];", f"    result0[i] = {ACTIVATION_FORMULAS[activation]};", "}"])


def _used_activations(network: ir.Network) -> list[str]:
    used = {g.activation for g in network.groups if g.activation and g.role != "input"}
    return [a for a in ir.ACTIVATIONS if a in used]


def activation_kernels(network: ir.Network) -> dict[str, str]:
    """A kernel per elementwise activation the groups use, and per slope."""
    kernels = {}
    for activation in _used_activations(network):
        if activation in ACTIVATION_FORMULAS:
            kernels[activation_kernel(activation)] = _activation_source(activation)
        if activation != "softmax":
            params = ["slope"] if activation == "leaky_relu" else []
            kernels[slope_name(activation)] = elementwise_kernel(
                slope_name(activation), ["net", "out"], params,
                [("d", activation_slope(activation))], ["d"], f"d {activation}(net) / d net")
    return kernels


def model_kernels(model: ir.NeuronModel) -> dict[str, str]:
    """The model's tick and its backward tick, each one fused kernel."""
    statements = [(t, e.from_dict(v)) for t, v in model.statements]
    sums = [ir.sum_variable(name) for name in model.sums]  # arrays after the parameters
    forward = elementwise_kernel(
        model_function_name(model), ["net", "out", *model.states, *sums], list(model.params),
        statements, ["out", *model.states], f"neuron model {model.name}: one tick",
        model.draws, held=model.params)
    back = backward_of(model)
    n_before = 2 + len(model.states)
    arrays = [*back.inputs[:n_before], *back.inputs[n_before + len(model.params):]]
    backward = elementwise_kernel(
        model_backward_name(model), arrays, list(back.inputs[n_before:n_before +
                                                             len(model.params)]),
        list(back.statements), list(back.outputs), f"neuron model {model.name}: backwards",
        model.draws, held=model.params)
    return {model_function_name(model): forward, model_backward_name(model): backward}


def network_source(network: ir.Network, sums: list[str], more: dict[str, str]) -> str:
    """All the CUDA C one network needs, after the element type's typedef (`more`: kernels
    made elsewhere, by name)."""
    kernels = dict(activation_kernels(network))
    for model in network.models:
        kernels.update(model_kernels(model))
    kernels.update(more)
    parts = [PRELUDE.strip("\n")] + [SUMS[name].strip("\n") for name in sums]
    return "\n\n".join(parts + list(kernels.values())) + "\n"


def _call(name: str, kernel: str, arrays: int, scalars: int, at: int, results: int,
          doc: str, single: bool = True, draws: bool = False, held: bool = False) -> dict:
    """A Python wrapper's facts: its kernel reads `arrays` arrays and `scalars` scalars, which
    the wrapper's arguments hold from position `at`, and writes `results` arrays (a `single`
    one is returned alone, not in a tuple). One that `draws` takes the draws last (a
    nndl.runtime.philox.Noise)."""
    given, noise = ("args[:-1]", ", noise=args[-1]") if draws else ("args", "")
    noise += ", held=True" if held else ""
    call = (f"KERNELS.map({kernel!r}, {given}, arrays={arrays}, at={at}, results={results}"
            f"{noise})")
    call += "[0]" if single else ""
    lines = [f"return {call}"] if len(call) <= 89 else [  # 100 columns, indented
        f"return KERNELS.map({kernel!r}, {given},",
        f"                   arrays={arrays}, at={at}, results={results}{noise})"
        f"{call[-3:] * single}"]
    return {"name": name, "lines": lines, "doc": quoted_text(f"{doc} (kernel `{kernel}`)")}


def _where(model: ir.NeuronModel) -> str:
    return f"line {model.loc.line} of {model.source}" if model.loc else model.source


def kernel_calls(network: ir.Network) -> list[dict]:
    """A Python wrapper for each elementwise kernel, named as the NumPy module's function."""
    calls = []
    for activation in _used_activations(network):
        scalars = 1 if activation == "leaky_relu" else 0
        if activation in ACTIVATION_FORMULAS:
            calls.append(_call(activation, activation_kernel(activation), 1, scalars, 1, 1,
                               f"{activation}, elementwise."))
        if activation != "softmax":
            calls.append(_call(slope_name(activation), slope_name(activation), 2, scalars, 2, 1,
                               f"d {activation}(net) / d net."))
    for model in network.models:
        n, back, sums = len(model.states), backward_of(model), len(model.sums)
        calls.append(_call(model_function_name(model), model_function_name(model), 2 + n + sums,
                           len(model.params), 2 + n, 1 + n,
                           f"Neuron model `{model.name}` ({_where(model)}): one tick; returns "
                           "(out, *states).",
                           single=False, draws=model.draws, held=True))
        calls.append(_call(model_backward_name(model), model_backward_name(model),
                           3 + 2 * n + sums, len(model.params), 2 + n, len(back.outputs),
                           f"Model `{model.name}` backwards: d loss / d (net, out, *states"
                           f"{', *trainable' if model.trainable else ''}"
                           f"{', *sums' if model.sums else ''}).",
                           single=False, draws=model.draws, held=True))
    return calls
