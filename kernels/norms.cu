// Group norm (optionally fused with SiLU) and layer norm over channels-last tensors, fp32 statistics.
//
// Group norm, x [N, P, C] with G groups of cg = C/G contiguous channels, statistics per (sample, group) over
// P·cg values. At 768² the VAE's groups hold P·cg ≈ 2.4M values, so one block per group would leave most SMs
// idle; instead three kernels:
//   group_norm_stats_*    grid (chunks, N·G): each block runs Welford over a chunk of positions and writes one
//                         partial (count, mean, M2);
//   group_norm_finalize   one thread per (n, g) merges its partials (Chan et al., in double) → (mean, rstd);
//   group_norm_apply_*    element-wise (x − mean)·rstd·gamma + beta [→ SiLU].
// Welford/Chan never form Σx² − (Σx)², so a large mean does not cancel the variance away.
//
// Layer norm, x [rows, C]: one warp per row, two passes over the row (mean, then Σ(x − mean)²) re-reading it from
// L1/L2 (C ≤ a few thousand), then the normalising pass.
#include "common.cuh"

struct Welford { float n, mean, m2; };

__device__ __forceinline__ Welford welford_merge(Welford a, Welford b) {
    float n = a.n + b.n;
    if (n == 0.0f) return a;
    float delta = b.mean - a.mean;
    float fb = b.n / n;
    Welford r;
    r.n = n;
    r.mean = fmaf(delta, fb, a.mean);
    r.m2 = a.m2 + b.m2 + delta * delta * a.n * fb;
    return r;
}

// partial [N·G][chunks][3]; chunk c covers positions [c·ppc, min(P, (c+1)·ppc)).
template <typename T>
__device__ void gn_stats_impl(const T* __restrict__ x, float* __restrict__ partial, int P, int C, int G, int ppc) {
    int chunk = blockIdx.x, ng = blockIdx.y;
    int b = ng / G, g = ng % G, cg = C / G;
    int p0 = chunk * ppc, p1 = min(P, p0 + ppc);
    i64 count = (i64)max(0, p1 - p0) * cg;
    const T* base = x + ((i64)b * P) * C + (i64)g * cg;
    Welford w = {0.0f, 0.0f, 0.0f};
    for (i64 e = threadIdx.x; e < count; e += blockDim.x) {
        int pos = p0 + (int)(e / cg), j = (int)(e % cg);
        float v = ld(base, (i64)pos * C + j);
        w.n += 1.0f;
        float d = v - w.mean;
        w.mean += d / w.n;
        w.m2 = fmaf(d, v - w.mean, w.m2);
    }
    // warp merge, then one partial per warp in shared memory, merged by warp 0
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        Welford other = {__shfl_down_sync(FULL_MASK, w.n, o), __shfl_down_sync(FULL_MASK, w.mean, o),
                         __shfl_down_sync(FULL_MASK, w.m2, o)};
        w = welford_merge(w, other);
    }
    __shared__ Welford warps[32];
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, nwarps = (blockDim.x + 31) >> 5;
    if (lane == 0) warps[warp] = w;
    __syncthreads();
    if (warp == 0) {
        w = lane < nwarps ? warps[lane] : Welford{0.0f, 0.0f, 0.0f};
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            Welford other = {__shfl_down_sync(FULL_MASK, w.n, o), __shfl_down_sync(FULL_MASK, w.mean, o),
                             __shfl_down_sync(FULL_MASK, w.m2, o)};
            w = welford_merge(w, other);
        }
        if (lane == 0) {
            float* out = partial + ((i64)ng * gridDim.x + chunk) * 3;
            out[0] = w.n;
            out[1] = w.mean;
            out[2] = w.m2;
        }
    }
}

// stats [N·G][2] = (mean, rstd), biased variance as torch.
extern "C" __global__ void group_norm_finalize(const float* __restrict__ partial, float* __restrict__ stats, int NG, int chunks, float eps) {
    int ng = blockIdx.x * blockDim.x + threadIdx.x;
    if (ng >= NG) return;
    double n = 0, mean = 0, m2 = 0;
    for (int c = 0; c < chunks; c++) {
        const float* p = partial + ((i64)ng * chunks + c) * 3;
        double nb = p[0];
        if (nb == 0) continue;
        double delta = (double)p[1] - mean, tot = n + nb;
        mean += delta * nb / tot;
        m2 += (double)p[2] + delta * delta * n * nb / tot;
        n = tot;
    }
    double var = n > 0 ? m2 / n : 0;
    stats[2 * ng] = (float)mean;
    stats[2 * ng + 1] = (float)(1.0 / sqrt(var + (double)eps));
}

template <typename T>
__device__ void gn_apply_impl(const T* __restrict__ x, T* __restrict__ y, const float* __restrict__ stats, const float* __restrict__ gamma,
                              const float* __restrict__ beta, i64 n, int P, int C, int G, int silu) {
    int cg = C / G;
    i64 perSample = (i64)P * C;
    GRID_STRIDE(i, n) {
        int c = (int)(i % C);
        i64 b = i / perSample;
        const float* s = stats + 2 * (b * G + c / cg);
        float v = (ld(x, i) - s[0]) * s[1] * gamma[c] + beta[c];
        if (silu) v = v / (1.0f + expf(-v));
        st(y, i, v);
    }
}

template <typename T>
__device__ void layer_norm_impl(const T* __restrict__ x, T* __restrict__ y, const float* __restrict__ gamma, const float* __restrict__ beta,
                                i64 rows, int C, float eps) {
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    i64 row = (i64)blockIdx.x * (blockDim.x >> 5) + warp;
    if (row >= rows) return; // warp-uniform: the whole warp leaves together
    const T* xr = x + row * C;
    T* yr = y + row * C;
    float s = 0.0f;
    for (int j = lane; j < C; j += 32) s += ld(xr, j);
    float mean = warp_sum(s) / C;
    float q = 0.0f;
    for (int j = lane; j < C; j += 32) {
        float d = ld(xr, j) - mean;
        q = fmaf(d, d, q);
    }
    float rstd = 1.0f / sqrtf(warp_sum(q) / C + eps);
    for (int j = lane; j < C; j += 32) st(yr, j, (ld(xr, j) - mean) * rstd * gamma[j] + beta[j]);
}

#define NORMS(S, T) \
    extern "C" __global__ void group_norm_stats_##S(const T* x, float* partial, int P, int C, int G, int ppc) { \
        gn_stats_impl<T>(x, partial, P, C, G, ppc); } \
    extern "C" __global__ void group_norm_apply_##S(const T* x, T* y, const float* stats, const float* gamma, const float* beta, \
                                                   i64 n, int P, int C, int G, int silu) { \
        gn_apply_impl<T>(x, y, stats, gamma, beta, n, P, C, G, silu); } \
    extern "C" __global__ void layer_norm_##S(const T* x, T* y, const float* gamma, const float* beta, i64 rows, int C, float eps) { \
        layer_norm_impl<T>(x, y, gamma, beta, rows, C, eps); }
FOR_EACH_DTYPE(NORMS)
