// Fused scaled-dot-product attention, flash style: softmax(q·kᵀ·scale)·v with an online softmax, so no
// [Lq, Lk] score matrix ever exists (at 768² the UNet's first level has 9,216 tokens). fp32 scores, running max,
// running sum and output accumulators whatever the storage type.
//
// Layout: q [N, Lq, heads·d], k [N, Lk, heads·d], v [N, Lk, heads·dv], o [N, Lq, heads·dv]; head h uses channels
// [h·d, (h+1)·d). Causal masks key j > query i (absolute indices, as the CPU reference).
//
// This is the simple, correct version (CUDA cores, no tensor cores):
//   grid (ceil(Lq / (WARPS·R)), N·heads), block WARPS·32 threads; each warp owns R query rows.
//   Per key tile of 32 keys, the block stages K [32][ks] and V [32][dv] in shared memory as float
//   (ks = d | 1: an odd row stride so lane j reading row j hits 32 different banks).
//   Lane j computes the score of key j against the warp's query row (q row broadcast from shared memory);
//   warp max/sum give the online-softmax update; then every lane accumulates its output channels
//   c = lane + 32·t over the 32 keys, p_j broadcast by shuffle.
// Two instantiations by value head size: dv ≤ 64 (UNet, CLIP: DVC = 2, R = 4) and dv ≤ 512 (VAE mid-block
// attention: DVC = 16, R = 2). Shared memory, 4·(32·ks + 32·dv + WARPS·R·d) bytes, is dynamic; above 48 KB the
// host raises the function's limit (CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES). CudaBackend.attentionSmem
// mirrors this formula.
#include "common.cuh"

#define ATT_WARPS 4
#define ATT_BC 32

template <typename T, int DVC, int R>
__device__ void attention_impl(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v, T* __restrict__ o,
                               int Lq, int Lk, int heads, int d, int dv, float scale, int causal) {
    DYNAMIC_SHARED(float, smem);
    const int ks = d | 1;
    float* Ks = smem;                  // [ATT_BC][ks]
    float* Vs = Ks + ATT_BC * ks;      // [ATT_BC][dv]
    float* Qs = Vs + ATT_BC * dv;      // [ATT_WARPS·R][d]

    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int b = blockIdx.y / heads, h = blockIdx.y % heads;
    const i64 qc = (i64)heads * d, vc = (i64)heads * dv;
    const int rowsPerBlock = ATT_WARPS * R;
    const int q0 = blockIdx.x * rowsPerBlock;

    for (int idx = threadIdx.x; idx < rowsPerBlock * d; idx += blockDim.x) {
        int r = idx / d, c = idx % d, i = q0 + r;
        Qs[idx] = i < Lq ? ld(q, ((i64)b * Lq + i) * qc + (i64)h * d + c) : 0.0f;
    }

    float m[R], l[R], acc[R][DVC];
#pragma unroll
    for (int r = 0; r < R; r++) {
        m[r] = -INFINITY;
        l[r] = 0.0f;
#pragma unroll
        for (int t = 0; t < DVC; t++) acc[r][t] = 0.0f;
    }

    // with a causal mask no query of this block sees keys at or beyond q0 + rowsPerBlock
    const int kEnd = causal ? min(Lk, q0 + rowsPerBlock) : Lk;
    for (int k0 = 0; k0 < kEnd; k0 += ATT_BC) {
        __syncthreads(); // the previous tile is consumed (first iteration: Qs is written)
        for (int idx = threadIdx.x; idx < ATT_BC * d; idx += blockDim.x) {
            int j = idx / d, c = idx % d, kj = k0 + j;
            Ks[j * ks + c] = kj < Lk ? ld(k, ((i64)b * Lk + kj) * qc + (i64)h * d + c) : 0.0f;
        }
        for (int idx = threadIdx.x; idx < ATT_BC * dv; idx += blockDim.x) {
            int j = idx / dv, c = idx % dv, kj = k0 + j;
            Vs[idx] = kj < Lk ? ld(v, ((i64)b * Lk + kj) * vc + (i64)h * dv + c) : 0.0f;
        }
        __syncthreads();

        const int kj = k0 + lane;
#pragma unroll
        for (int r = 0; r < R; r++) {
            const int qr = warp * R + r, i = q0 + qr;
            if (i >= Lq) continue; // warp-uniform
            const float* qrow = Qs + qr * d;
            const float* krow = Ks + lane * ks;
            float s = 0.0f;
            for (int c = 0; c < d; c++) s = fmaf(qrow[c], krow[c], s);
            s *= scale;
            const bool valid = kj < Lk && !(causal && kj > i);
            if (!valid) s = -INFINITY;
            const float mnew = fmaxf(m[r], warp_max(s));
            if (mnew == -INFINITY) continue; // warp-uniform: every key so far is masked
            const float corr = expf(m[r] - mnew); // 0 on the first unmasked tile (m = −∞)
            const float p = valid ? expf(s - mnew) : 0.0f;
            l[r] = l[r] * corr + warp_sum(p);
            m[r] = mnew;
#pragma unroll
            for (int t = 0; t < DVC; t++) acc[r][t] *= corr;
            for (int j = 0; j < ATT_BC; j++) {
                const float pj = __shfl_sync(FULL_MASK, p, j);
                const float* vrow = Vs + j * dv;
#pragma unroll
                for (int t = 0; t < DVC; t++) {
                    const int c = lane + 32 * t;
                    if (c < dv) acc[r][t] = fmaf(pj, vrow[c], acc[r][t]);
                }
            }
        }
    }

#pragma unroll
    for (int r = 0; r < R; r++) {
        const int i = q0 + warp * R + r;
        if (i >= Lq) continue;
        const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f; // a fully masked row gives 0, as the reference
#pragma unroll
        for (int t = 0; t < DVC; t++) {
            const int c = lane + 32 * t;
            if (c < dv) st(o, ((i64)b * Lq + i) * vc + (i64)h * dv + c, acc[r][t] * inv);
        }
    }
}

#define ATTENTION(S, T) \
    extern "C" __global__ void __launch_bounds__(ATT_WARPS * 32) attention_dv64_##S(const T* q, const T* k, const T* v, T* o, \
            int Lq, int Lk, int heads, int d, int dv, float scale, int causal) { \
        attention_impl<T, 2, 4>(q, k, v, o, Lq, Lk, heads, d, dv, scale, causal); } \
    extern "C" __global__ void __launch_bounds__(ATT_WARPS * 32) attention_dv512_##S(const T* q, const T* k, const T* v, T* o, \
            int Lq, int Lk, int heads, int d, int dv, float scale, int causal) { \
        attention_impl<T, 16, 2>(q, k, v, o, Lq, Lk, heads, d, dv, scale, causal); }
FOR_EACH_DTYPE(ATTENTION)
