// Group norm (optionally fused with SiLU) and layer norm over channels-last tensors, fp32 statistics.
//
// Group norm, x [N, P, C] with G groups of cg = C/G contiguous channels, statistics per (sample, group) over
// P·cg values. At 768² the VAE's groups hold P·cg ≈ 2.4M values, so one block per group would leave most SMs
// idle; instead three kernels:
//   group_norm_stats_*    grid (chunks, N): each block takes a chunk of rows of one sample, all channels, and
//                         reads whole rows (coalesced, 16 bytes a thread); per-channel sums go through shared memory
//                         and are added up per group in a fixed order (deterministic). Two passes: the sum, then the
//                         squared deviations from the chunk's group means (re-read from L1/L2) → one partial
//                         (count, mean, M2) per group and chunk;
//   group_norm_finalize   one block per (n, g) merges its partials (parallel-axis theorem, in double) → mean, rstd,
//                         and writes per-channel coefficients (mean, scale = rstd·gamma, beta) for its cg channels;
//   group_norm_apply_*    element-wise (x − mean)·scale + beta [→ SiLU], 16 bytes per thread where C allows, the
//                         coefficients from shared memory. Not x·scale + (beta − mean·scale): with eps-sized
//                         variances scale is in the hundreds and that form cancels (a group of one value came out
//                         7.5e-4 off in fp32).
// No Σx² − (Σx)²: the chunk's own mean is subtracted before squaring, and the merge adds the chunks' M2 and their
// spread around the exact (double) mean, so a large mean does not cancel the variance away. Flat indices inside a sample are 32-bit (the host checks P·C < 2³¹); no loop divides
// per element.
// History (H200, one 768²×128 bf16 group norm + SiLU: 151 MB in, 151 MB out, ~0.08 ms of DRAM time): 0.97 ms with a
// block per (chunk, group) walking the group's 4-channel slice (8 bytes of every 256-byte row), a 64-bit divide per
// element and one thread per group merging 576 partials; 0.89 ms without the divides; 0.56 ms with a warp per merge;
// 0.41 ms with groups fastest in the grid (blocks on the same rows share sectors through L2); 0.30 ms reading each row
// once, coalesced, with the apply's coefficients in shared memory — but those small row chunks made 4 608 partials a
// group, 144 serial merge steps per lane at ≈ 0.6 µs a step (inferred: one thread's 576 steps → a warp's 9 cut
// 0.33 ms), so ≈ 0.08 ms. The division-free block merge replaced that after the session's last GPU run: its time is
// for the next run to measure (tools/gpu-check.sh, `--profile`).
//
// Layer norm, x [rows, C]: one warp per row, two passes over the row (mean, then Σ(x − mean)²) re-reading it from
// L1/L2 (C ≤ a few thousand), then the normalising pass.
#include "common.cuh"

// Loads V consecutive values (16 bytes when V = 16 / sizeof(T), else V = 1) as floats.
template <typename T, int V>
__device__ __forceinline__ void ld_units(const T* p, float (&out)[V]) {
    if (V == 1) {
        out[0] = ld(p, 0);
    } else {
        uint4 raw = *reinterpret_cast<const uint4*>(p);
        const T* e = reinterpret_cast<const T*>(&raw);
#pragma unroll
        for (int k = 0; k < V; k++) out[k] = ld(e, k);
    }
}

// One pass of the statistics: every thread sums f(x) over its column's rows, the per-channel sums go through shared
// memory, and each group's total is added up in a fixed order. Pass 1: f = x (→ chunk mean per group); pass 2:
// f = (x − mean_g)².
// cs columns side by side (all cv = C / V of them when the block is wide enough, else blockDim, each thread then
// taking columns u, u + cs, …), rpi = blockDim / cs rows side by side; red [rpi][C].
template <typename T, int V, bool SQ>
__device__ __forceinline__ void gn_stats_pass(const T* base, int rows, int C, int G, int cg, int cs, float* red, float* gsum,
                                              const float* gmean) {
    const int cv = C / V, rpi = blockDim.x / cs, u0 = threadIdx.x % cs, r0 = threadIdx.x / cs;
    if (r0 < rpi) {
        for (int u = u0; u < cv; u += cs) {
            float acc[V], m[V];
#pragma unroll
            for (int k = 0; k < V; k++) {
                acc[k] = 0.0f;
                m[k] = SQ ? gmean[(u * V + k) / cg] : 0.0f;
            }
            for (int r = r0; r < rows; r += rpi) {
                float v[V];
                ld_units<T, V>(base + (i64)r * C + u * V, v);
#pragma unroll
                for (int k = 0; k < V; k++) {
                    if (SQ) {
                        const float d = v[k] - m[k];
                        acc[k] = fmaf(d, d, acc[k]);
                    } else {
                        acc[k] += v[k];
                    }
                }
            }
#pragma unroll
            for (int k = 0; k < V; k++) red[r0 * C + u * V + k] = acc[k];
        }
    }
    __syncthreads();
    for (int g = threadIdx.x; g < G; g += blockDim.x) {
        float t = 0.0f;
        for (int r = 0; r < rpi; r++)
            for (int j = 0; j < cg; j++) t += red[r * C + g * cg + j];
        gsum[g] = t;
    }
    __syncthreads();
}

// grid (chunks, N); chunk c covers positions [c·ppc, min(P, (c+1)·ppc)) of one sample, all channels. The block is
// cv·⌊256/cv⌋ threads for cv ≤ 1024 (cv = C / V columns of V channels; the host sizes it), else 1024: thread t reads
// column t % cv of rows t / cv, t / cv + rpi, …, so a warp reads whole rows, coalesced. Two passes (sum, then squared
// deviations from the chunk's group means; the second re-reads the chunk from L1/L2); partial [N·G][chunks][3] =
// (count, mean, M2). Dynamic shared memory: (rpi·C + 2·G) floats.
template <typename T>
__device__ void gn_stats_impl(const T* __restrict__ x, float* __restrict__ partial, int P, int C, int G, int ppc, int vec) {
    DYNAMIC_SHARED(float, smem);
    constexpr int VEC = 16 / sizeof(T);
    const int chunk = blockIdx.x, b = blockIdx.y, cg = C / G;
    const int p0 = chunk * ppc, rows = max(0, min(P, p0 + ppc) - p0);
    const T* base = x + ((i64)b * P + p0) * C;
    const int cs = min(C / (vec ? VEC : 1), (int)blockDim.x); // columns side by side (gn_stats_pass)
    float* red = smem;                                          // [rpi][C]
    float* gsum = smem + (blockDim.x / cs) * C;                 // [G]
    float* gmean = gsum + G;                                    // [G]
    if (vec) gn_stats_pass<T, VEC, false>(base, rows, C, G, cg, cs, red, gsum, gmean);
    else gn_stats_pass<T, 1, false>(base, rows, C, G, cg, cs, red, gsum, gmean);
    const float count = (float)rows * (float)cg;
    for (int g = threadIdx.x; g < G; g += blockDim.x) gmean[g] = rows > 0 ? gsum[g] / count : 0.0f;
    __syncthreads();
    if (vec) gn_stats_pass<T, VEC, true>(base, rows, C, G, cg, cs, red, gsum, gmean);
    else gn_stats_pass<T, 1, true>(base, rows, C, G, cg, cs, red, gsum, gmean);
    for (int g = threadIdx.x; g < G; g += blockDim.x) {
        float* out = partial + (((i64)b * G + g) * gridDim.x + chunk) * 3;
        out[0] = count;
        out[1] = gmean[g];
        out[2] = gsum[g];
    }
}

// Sum over the block in double (blockDim.x a multiple of 32, ≤ 1024), returned to every thread; fixed order.
__device__ __forceinline__ double block_sum_d(double v, double* red /* [33] shared */) {
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, nwarps = blockDim.x >> 5;
    v = warp_sum(v);
    if (lane == 0) red[warp] = v;
    __syncthreads();
    if (threadIdx.x == 0) {
        double t = 0;
        for (int w = 0; w < nwarps; w++) t += red[w];
        red[32] = t;
    }
    __syncthreads();
    const double r = red[32];
    __syncthreads(); // red is reused by the next call
    return r;
}

// coef [3][N·C]: mean, scale, beta per (sample, channel); biased variance as torch. One block per (n, g). The
// partials (count n_i, mean m_i, M2_i) merge by the parallel-axis theorem in two sums, without a division per
// partial: mean = Σ n_i·m_i / Σ n_i, then M2 = Σ [M2_i + n_i·(m_i − mean)²], in double, the threads striding over the
// partials (they stay in L2 between the two passes). A serial Chan merge (a division per step, each waiting for the
// last) cost ≈ 0.6 µs per partial on an H200: ≈ 0.33 ms for one thread over 576 of them, ≈ 0.08 ms for a warp's lanes
// over 4 608; here the row chunks of the statistics can be as small as the loads want.
extern "C" __global__ void group_norm_finalize(const float* __restrict__ partial, float* __restrict__ coef, const float* __restrict__ gamma,
                                               const float* __restrict__ beta, int NG, int G, int C, int chunks, float eps) {
    __shared__ double red[33];
    const int ng = blockIdx.x;
    const float* p = partial + (i64)ng * chunks * 3;
    double sn = 0, sm = 0;
    for (int c = threadIdx.x; c < chunks; c += blockDim.x) {
        sn += (double)p[3 * c];
        sm += (double)p[3 * c] * (double)p[3 * c + 1];
    }
    const double n = block_sum_d(sn, red), snm = block_sum_d(sm, red); // every thread reaches both barriers
    const double mean = n > 0 ? snm / n : 0;
    double sq = 0;
    for (int c = threadIdx.x; c < chunks; c += blockDim.x) {
        const double d = (double)p[3 * c + 1] - mean;
        sq += (double)p[3 * c + 2] + (double)p[3 * c] * d * d;
    }
    const double m2 = block_sum_d(sq, red);
    const double var = n > 0 ? m2 / n : 0;
    const float rstd = (float)(1.0 / sqrt(var + (double)eps)), fmean = (float)mean;
    const int b = ng / G, g = ng % G, cg = C / G;
    const i64 NC = (i64)(NG / G) * C;
    for (int j = threadIdx.x; j < cg; j += blockDim.x) {
        const int c = g * cg + j;
        coef[(i64)b * C + c] = fmean;
        coef[NC + (i64)b * C + c] = rstd * gamma[c];
        coef[2 * NC + (i64)b * C + c] = beta[c];
    }
}

__device__ __forceinline__ float gn_out(float v, float m, float a, float s, int silu) {
    v = fmaf(v - m, a, s);
    return silu ? v / (1.0f + expf(-v)) : v;
}

// grid (blocks, N); per = P·C elements of a sample. vec: C % V == 0 and x, y 16-byte aligned, V = 16 / sizeof(T).
// The block first copies its sample's coefficients (3·C floats) into shared memory when the host gave it the room
// (dynamic shared memory ≥ 12·C bytes; else they are read from global memory): per element they are 3 loads whose
// lanes hit 8-float-strided addresses, which from L1 cost more than the tensor's own traffic.
template <typename T>
__device__ void gn_apply_impl(const T* __restrict__ x, T* __restrict__ y, const float* __restrict__ coef, int per, int C, i64 NC,
                              int silu, int vec, int shared) {
    DYNAMIC_SHARED(float, smem);
    const i64 off = (i64)blockIdx.y * per;
    const float* mu = coef + (i64)blockIdx.y * C;
    const float* sc = mu + NC;
    const float* sh = sc + NC;
    if (shared) {
        for (int c = threadIdx.x; c < C; c += blockDim.x) {
            smem[c] = mu[c];
            smem[C + c] = sc[c];
            smem[2 * C + c] = sh[c];
        }
        __syncthreads();
        mu = smem;
        sc = smem + C;
        sh = smem + 2 * C;
    }
    const int stride = gridDim.x * blockDim.x;
    if (vec) {
        constexpr int V = 16 / sizeof(T);
        const int units = per / V, cv = C / V;
        for (int u = blockIdx.x * blockDim.x + threadIdx.x; u < units; u += stride) {
            const int c0 = (u % cv) * V;
            uint4 raw = reinterpret_cast<const uint4*>(x + off)[u];
            T* e = reinterpret_cast<T*>(&raw);
#pragma unroll
            for (int k = 0; k < V; k++) st(e, k, gn_out(ld(e, k), mu[c0 + k], sc[c0 + k], sh[c0 + k], silu));
            reinterpret_cast<uint4*>(y + off)[u] = raw;
        }
    } else {
        int c = (blockIdx.x * blockDim.x + threadIdx.x) % C;
        const int dc = stride % C;
        for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < per; i += stride) {
            st(y + off, i, gn_out(ld(x + off, i), mu[c], sc[c], sh[c], silu));
            c += dc;
            if (c >= C) c -= C;
        }
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
    extern "C" __global__ void group_norm_stats_##S(const T* x, float* partial, int P, int C, int G, int ppc, int vec) { \
        gn_stats_impl<T>(x, partial, P, C, G, ppc, vec); } \
    extern "C" __global__ void group_norm_apply_##S(const T* x, T* y, const float* coef, int per, int C, i64 NC, int silu, \
                                                   int vec, int shared) { \
        gn_apply_impl<T>(x, y, coef, per, C, NC, silu, vec, shared); } \
    extern "C" __global__ void layer_norm_##S(const T* x, T* y, const float* gamma, const float* beta, i64 rows, int C, float eps) { \
        layer_norm_impl<T>(x, y, gamma, beta, rows, C, eps); }
FOR_EACH_DTYPE(NORMS)
