"""The CuPy backend's stencil kernels: a `local` projection between groups of one grid (any
numbers of feature maps, wrap or not; see backends/numpy/layouts.py, `gpu_kind`) summed forward,
back to its source and into its weights, each thread finding its sources from the grid and the
offsets of the taps (nndl.runtime.layout.Taps) instead of reading an index table.

Written as the other kernels are (backends/cupy/kernels.py): for `real`, one thread per element
written, no shared memory, so that the same text builds as host C++. Weights come as a
(taps, targets) map, 0 where a tap has no synapse (the module's `tap_weights`).
"""

STENCILS = {
    "tap_source": '''
// stencils (`local` between groups of one grid, nndl.runtime.layout.Taps): tap t is a source
// map, then an offset per grid axis; the grid position that tap t reaches from position q,
// moved by `direction` (1 from a target to its source, -1 back) times the offset, around the
// grid (wrap) or -1 where it falls off; `dims` are the grid's sizes
__device__ inline long long nndl_tap_source(long long q, long long t, long long direction,
        long long axes, long long wrap, const long long* dims, const long long* taps) {
    const long long* offset = taps + t * (axes + 1) + 1;
    long long found = 0, stride = 1;
    for (long long a = axes - 1; a >= 0; --a) {
        long long at = q % dims[a] + direction * offset[a];
        q /= dims[a];
        if (wrap) at = (at % dims[a] + dims[a]) % dims[a];
        else if (at < 0 || at >= dims[a]) return -1;
        found += at * stride;
        stride *= dims[a];
    }
    return found;
}
''',
    "stencil_sum": '''
// stencil: target j (grid position q) sums w_map[t, j] * x[b, tap t's map at the position tap t
// reaches from q] over the taps t (w_map is 0 where a tap has no synapse)
extern "C" __global__ void stencil_sum(long long batch, long long n_x, long long n_post,
        long long cells, long long n_taps, long long axes, long long wrap,
        const long long* dims, const long long* taps, const real* x, const real* w_map,
        real* total) {
    long long k = NNDL_THREAD;
    if (k >= batch * n_post) return;
    long long b = k / n_post, j = k % n_post;
    real sum = 0;
    for (long long t = 0; t < n_taps; ++t) {
        long long p = nndl_tap_source(j % cells, t, 1, axes, wrap, dims, taps);
        if (p >= 0) sum += w_map[t * n_post + j] * x[b * n_x + taps[t * (axes + 1)] * cells + p];
    }
    total[k] = sum;
}
''',
    "stencil_back": '''
// stencil backwards, d loss / d source s (map m, grid position p): w_map[t, j] * dnet[b, j] over
// the taps t from map m and every target j, of any map, at the position that tap t reaches p
// from (one thread per source: no two write the same place)
extern "C" __global__ void stencil_back(long long batch, long long n_x, long long n_post,
        long long cells, long long n_taps, long long axes, long long wrap,
        const long long* dims, const long long* taps, const real* dnet, const real* w_map,
        real* g_x) {
    long long k = NNDL_THREAD;
    if (k >= batch * n_x) return;
    long long b = k / n_x, m = (k % n_x) / cells, p = k % cells;
    real sum = 0;
    for (long long t = 0; t < n_taps; ++t) {
        if (taps[t * (axes + 1)] != m) continue;
        long long q = nndl_tap_source(p, t, -1, axes, wrap, dims, taps);
        if (q < 0) continue;
        for (long long j = q; j < n_post; j += cells)
            sum += w_map[t * n_post + j] * dnet[b * n_post + j];
    }
    g_x[k] = sum;
}
''',
    "stencil_grads": '''
// stencil, d loss / d the weight of tap t at target j: dnet[b, j] * x[b, the source tap t
// reaches from j] summed over the batch (0 where the tap falls off the grid)
extern "C" __global__ void stencil_grads(long long batch, long long n_x, long long n_post,
        long long cells, long long n_taps, long long axes, long long wrap,
        const long long* dims, const long long* taps, const real* dnet, const real* x,
        real* g_map) {
    long long k = NNDL_THREAD;
    if (k >= n_taps * n_post) return;
    long long t = k / n_post, j = k % n_post;
    long long p = nndl_tap_source(j % cells, t, 1, axes, wrap, dims, taps);
    real sum = 0;
    if (p >= 0) {
        long long s = taps[t * (axes + 1)] * cells + p;
        for (long long b = 0; b < batch; ++b) sum += dnet[b * n_post + j] * x[b * n_x + s];
    }
    g_map[k] = sum;
}
''',
}
