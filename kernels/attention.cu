// Fused scaled-dot-product attention, flash style: softmax(q·kᵀ·scale)·v with an online softmax, so no
// [Lq, Lk] score matrix ever exists (at 768² the UNet's first level has 9,216 tokens). fp32 scores, running max,
// running sum and output accumulators whatever the storage type.
//
// Layout: q [N, Lq, heads·d], k [N, Lk, heads·d], v [N, Lk, heads·dv], o [N, Lq, heads·dv]; head h uses channels
// [h·d, (h+1)·d). Causal masks key j > query i (absolute indices, as the CPU reference).
//
// Two families: the CUDA-core kernels here (attention_dv64/dv512: every storage type; the fp32 path and the fallback)
// and the tensor-core kernels further down (attention_tc64/tc512: fp16/bf16 storage, d and dv ≤ 512).
//
// CUDA cores, the simple, correct version:
//   grid (ceil(Lq / (WARPS·R)), N·heads), block WARPS·32 threads; each warp owns R query rows.
//   Per key tile of 32 keys, the block stages K [32][ks] and V [32][dv] in shared memory in the storage type T
//   (ks = d | 1: an odd row stride so lane j reading row j hits different banks).
//   Lane j computes the score of key j against the warp's query row (q row broadcast from shared memory);
//   warp max/sum give the online-softmax update; then every lane accumulates its output channels
//   c = lane + 32·t over the 32 keys, p_j broadcast by shuffle.
// Two instantiations by value head size: dv ≤ 64 (UNet, CLIP: DVC = 2, R = 4) and dv ≤ 512 (VAE mid-block
// attention: DVC = 16, R = 2). Shared memory, sizeof(T)·(32·ks + 32·dv) + 4·WARPS·R·d bytes, is dynamic; above 48 KB the
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
    // K and V tiles in the storage type (exact: they are T in memory), so fp16/bf16 need half the bytes and the
    // d = 512 fallback fits the 99 KB of sm_86/89; 32·(ks + dv) elements of 2 or 4 bytes keep Qs 4-byte aligned
    T* Ks = reinterpret_cast<T*>(smem);            // [ATT_BC][ks]
    T* Vs = Ks + ATT_BC * ks;                      // [ATT_BC][dv]
    float* Qs = reinterpret_cast<float*>(Vs + ATT_BC * dv); // [ATT_WARPS·R][d]

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
            st(Ks, (i64)j * ks + c, kj < Lk ? ld(k, ((i64)b * Lk + kj) * qc + (i64)h * d + c) : 0.0f);
        }
        for (int idx = threadIdx.x; idx < ATT_BC * dv; idx += blockDim.x) {
            int j = idx / dv, c = idx % dv, kj = k0 + j;
            st(Vs, idx, kj < Lk ? ld(v, ((i64)b * Lk + kj) * vc + (i64)h * dv + c) : 0.0f);
        }
        __syncthreads();

        const int kj = k0 + lane;
#pragma unroll
        for (int r = 0; r < R; r++) {
            const int qr = warp * R + r, i = q0 + qr;
            if (i >= Lq) continue; // warp-uniform
            const float* qrow = Qs + qr * d;
            const T* krow = Ks + lane * ks;
            float s = 0.0f;
            for (int c = 0; c < d; c++) s = fmaf(qrow[c], ld(krow, c), s);
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
                const T* vrow = Vs + j * dv;
#pragma unroll
                for (int t = 0; t < DVC; t++) {
                    const int c = lane + 32 * t;
                    if (c < dv) acc[r][t] = fmaf(pj, ld(vrow, c), acc[r][t]);
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

// ================================================================ tensor cores (fp16 / bf16 storage)
//
// Flash attention on tensor cores through the portable WMMA API (16×16×16 fragments, fp32 accumulators), for any
// d, dv ≤ 512 (zero-padded in shared memory to multiples of 16). fp32 storage keeps the CUDA-core kernels above.
//
// Fragments are treated as opaque (only load/store/mma/fill): which lane holds which element differs between GPU
// generations and in the CPU emulator (tools/cudaemu/shim/mma.h), so everything row-wise goes through shared memory.
//
// One block = BM = 64 query rows of one (batch, head); key tiles of BN = 64. Per key tile:
//   (A) sync; K tile → KVs                                  [BN][ldkv] T, zero rows ≥ Lk and columns ≥ d
//   (B) sync; S = Q·Kᵀ on tensor cores → Ss                 [BM][lds] fp32 (raw dot products)
//   (C) sync; V tile → KVs (K is consumed) and, meanwhile, the online softmax, row by row:
//       scores in log2 units s·scale·log2e, masked (key ≥ Lk, causal key > query) to −∞; new running max m;
//       P = exp2(s − m) rounded to T → Ps [BM][ldp]; l = l·corr + Σ P (the rounded values, so the weights the
//       tensor cores multiply are exactly the ones the normaliser sums).
//       Lazy rescale (FlashAttention 4's conditional rescaling): m is only raised when the tile max exceeds it by
//       more than 8 (log2 units, i.e. P ≤ 256, safe in fp16), so O's per-row rescale, which needs a trip through
//       shared memory because fragments are opaque, is rare after the first tiles. A raised row flags its 16-row
//       group.
//   (D) sync; flagged O fragments: store → scale rows by corr → load (per-warp 16×16 scratch in Ss);
//       O += P·V on tensor cores (O stays in accumulator fragments for the whole key loop).
// Epilogue: each O fragment → scratch → ×1/l per row → T → global (a fully masked row, l = 0, gives 0).
//
// Two instantiations (the warp ↦ fragment maps are generic in W):
//   attention_tc64   d, dv ≤ 64  (UNet, CLIP): 4 warps; warp w owns query rows 16w..16w+15: 4 score fragments,
//                    4 output fragments (16 × 64 fp32).
//   attention_tc512  d, dv ≤ 512 (VAE mid-block: one head of 512): 16 warps; warp w owns row group w % 4, one
//                    score fragment (key block w / 4) and 8 output fragments (columns 16·(w/4 + 4t), t < 8).
// Shared memory (bytes, T = 2 bytes), dp = round16(d), dvp = round16(dv):
//   Q  BM·(dp + 8)·2 + KV BN·(max(dp, dvp) + 8)·2 + S BM·(BN + 4)·4 + P BM·(BN + 8)·2 + m, l, corr 3·BM·4 + flags (BM/16)·4
//   d = dv = 64: 45,840 (no opt-in needed); d = dv = 512: 160,528 (fits A100's 163 KB and H100's 227 KB opt-in).
//   Row paddings (+8 halves, +4 floats) keep every fragment pointer 32-byte aligned and shift rows across banks.
// CudaBackend.attentionTcSmem mirrors this formula.
#include <mma.h>

#define TC_BM 64
#define TC_BN 64
#define TC_PAD 8
#define TC_RESCALE_LOG2 8.0f

__host__ __device__ __forceinline__ int round16(int x) { return (x + 15) & ~15; }

__device__ __forceinline__ unsigned short bits16(float v, __half) { return __half_as_ushort(__float2half_rn(v)); }
__device__ __forceinline__ unsigned short bits16(float v, __nv_bfloat16) { return __bfloat16_as_ushort(__float2bfloat16_rn(v)); }
__device__ __forceinline__ float from16(unsigned short b, __half) { return __half2float(__ushort_as_half(b)); }
__device__ __forceinline__ float from16(unsigned short b, __nv_bfloat16) { return __bfloat162float(__ushort_as_bfloat16(b)); }

// Copies a [rows][cols] tile of 16-bit values (global row stride `stride` elements) into shared memory
// dst [rows][ld], zero-filling rows ≥ valid and columns cols..colsp−1. vec: cols % 8 == 0 and src, stride 16-byte
// aligned, so each thread moves 8 values (16 bytes) at a time.
template <int NT>
__device__ __forceinline__ void tc_load_tile(unsigned short* dst, int ld, const unsigned short* src, i64 stride,
                                             int rows, int valid, int cols, int colsp, bool vec) {
    if (vec) {
        const int cpr = colsp >> 3;
        for (int idx = threadIdx.x; idx < rows * cpr; idx += NT) {
            const int r = idx / cpr, c = (idx % cpr) << 3;
            uint4 val = {0u, 0u, 0u, 0u};
            if (r < valid && c < cols) val = *reinterpret_cast<const uint4*>(src + r * stride + c);
            *reinterpret_cast<uint4*>(dst + r * ld + c) = val;
        }
    } else {
        for (int idx = threadIdx.x; idx < rows * colsp; idx += NT) {
            const int r = idx / colsp, c = idx % colsp;
            dst[r * ld + c] = r < valid && c < cols ? src[r * stride + c] : (unsigned short)0;
        }
    }
}

struct __align__(128) tc_smem_unit { unsigned char b[128]; };

template <typename T, int W, int MAXDV>
__device__ void attention_tc_impl(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v, T* __restrict__ o,
                                  int Lq, int Lk, int heads, int d, int dv, float scale, int causal) {
    using namespace nvcuda;
    constexpr int NT = W * 32;
    constexpr int RG = TC_BM / 16;                 // 16-row groups of a query block
    constexpr int CN = TC_BN / 16;                 // 16-key blocks of a key tile
    constexpr int NS = RG * CN / W;                // score fragments per warp
    constexpr int NO = RG * (MAXDV / 16) / W;      // output fragments per warp
    constexpr int TPR = NT / TC_BM;                // softmax threads per query row (consecutive lanes)
    constexpr int CPT = TC_BN / TPR;               // softmax columns per thread
    static_assert(W % RG == 0 && (RG * CN) % W == 0 && (RG * (MAXDV / 16)) % W == 0, "fragments must divide among warps");
    static_assert(TPR >= 1 && TPR <= 32 && (TPR & (TPR - 1)) == 0, "a row's threads must be a power-of-two lane group");
    static_assert(TC_BM * (TC_BN + 4) >= W * 256, "per-warp scratch must fit in the score buffer");

    DYNAMIC_SHARED(tc_smem_unit, smem_units); // 128-byte aligned: WMMA pointers must be 32-byte aligned
    unsigned char* smem_raw = reinterpret_cast<unsigned char*>(smem_units);
    const int dp = round16(d), dvp = round16(dv);
    const int ldq = dp + TC_PAD, ldkv = max(dp, dvp) + TC_PAD, lds = TC_BN + 4, ldp = TC_BN + TC_PAD;
    T* Qs = reinterpret_cast<T*>(smem_raw);              // [BM][ldq]   query block (loaded once)
    T* KVs = Qs + TC_BM * ldq;                           // [BN][ldkv]  K tile, then V tile
    float* Ss = reinterpret_cast<float*>(KVs + TC_BN * ldkv); // [BM][lds] scores; after the softmax: per-warp scratch
    T* Ps = reinterpret_cast<T*>(Ss + TC_BM * lds);      // [BM][ldp]   probabilities
    float* rowM = reinterpret_cast<float*>(Ps + TC_BM * ldp); // [BM] running max (log2 units)
    float* rowL = rowM + TC_BM;                          // [BM] running sum of P
    float* rowC = rowL + TC_BM;                          // [BM] this tile's rescale factor of O
    int* flag = reinterpret_cast<int*>(rowC + TC_BM);    // [RG] tile + 1 when the row group's O must be rescaled

    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int rg = warp % RG;                            // this warp's 16-row group (scores and outputs)
    const int b = blockIdx.y / heads, h = blockIdx.y % heads;
    const i64 qc = (i64)heads * d, vc = (i64)heads * dv;
    const int q0 = blockIdx.x * TC_BM;
    const unsigned short* qb = reinterpret_cast<const unsigned short*>(q) + ((i64)b * Lq + q0) * qc + (i64)h * d;
    const unsigned short* kb = reinterpret_cast<const unsigned short*>(k) + (i64)b * Lk * qc + (i64)h * d;
    const unsigned short* vb = reinterpret_cast<const unsigned short*>(v) + (i64)b * Lk * vc + (i64)h * dv;
    const bool vecQK = (d & 7) == 0 && ((reinterpret_cast<size_t>(q) | reinterpret_cast<size_t>(k)) & 15) == 0;
    const bool vecV = (dv & 7) == 0 && (reinterpret_cast<size_t>(v) & 15) == 0;
    unsigned short* Qb = reinterpret_cast<unsigned short*>(Qs);
    unsigned short* KVb = reinterpret_cast<unsigned short*>(KVs);
    unsigned short* Pb = reinterpret_cast<unsigned short*>(Ps);

    tc_load_tile<NT>(Qb, ldq, qb, qc, TC_BM, Lq - q0, d, dp, vecQK);
    for (int r = threadIdx.x; r < TC_BM; r += NT) {
        rowM[r] = -INFINITY;
        rowL[r] = 0.0f;
        rowC[r] = 1.0f;
    }
    if (threadIdx.x < RG) flag[threadIdx.x] = 0;

    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[NO]; // O [16 rows of group rg][16 columns of block cf(t)]
#pragma unroll
    for (int t = 0; t < NO; t++) wmma::fill_fragment(acc[t], 0.0f);
    const int ncf = dvp / 16;
    const float sl2 = scale * 1.4426950408889634f; // scores in log2 units: exp(x) = exp2(x·log2 e)
    float* scratch = Ss + warp * 256;              // [16][16] fp32, this warp's, valid only after (D)

    // with a causal mask no query of this block sees keys at or beyond q0 + BM
    const int kEnd = causal ? min(Lk, q0 + TC_BM) : Lk;
    int tile = 0;
    for (int k0 = 0; k0 < kEnd; k0 += TC_BN, tile++) {
        __syncthreads(); // (A) the previous tile's P·V is done with KVs and Ps (first tile: Q and row state written)
        tc_load_tile<NT>(KVb, ldkv, kb + (i64)k0 * qc, qc, TC_BN, Lk - k0, d, dp, vecQK);
        __syncthreads(); // (B)
        {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> s[NS]; // S [16 rows of rg][16 keys of block cn(t)]
#pragma unroll
            for (int t = 0; t < NS; t++) wmma::fill_fragment(s[t], 0.0f);
            for (int kk = 0; kk < dp; kk += 16) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
                wmma::load_matrix_sync(a, Qs + rg * 16 * ldq + kk, ldq);
#pragma unroll
                for (int t = 0; t < NS; t++) {
                    const int cn = warp / RG + (W / RG) * t;
                    // Kᵀ [channel][key] is K [key][channel] read column-major
                    wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> kf;
                    wmma::load_matrix_sync(kf, KVs + cn * 16 * ldkv + kk, ldkv);
                    wmma::mma_sync(s[t], a, kf, s[t]);
                }
            }
#pragma unroll
            for (int t = 0; t < NS; t++) {
                const int cn = warp / RG + (W / RG) * t;
                wmma::store_matrix_sync(Ss + rg * 16 * lds + cn * 16, s[t], lds, wmma::mem_row_major);
            }
        }
        __syncthreads(); // (C) scores complete, K consumed
        tc_load_tile<NT>(KVb, ldkv, vb + (i64)k0 * vc, vc, TC_BN, Lk - k0, dv, dvp, vecV);
        {
            const int r = threadIdx.x / TPR, sub = threadIdx.x % TPR, i = q0 + r;
            const float* srow = Ss + r * lds;
            unsigned short* prow = Pb + r * ldp;
            float sv[CPT];
            float mt = -INFINITY;
#pragma unroll
            for (int c = 0; c < CPT; c++) {
                const int col = sub + TPR * c, j = k0 + col;
                const bool valid = j < Lk && !(causal && j > i);
                sv[c] = valid ? srow[col] * sl2 : -INFINITY;
                mt = fmaxf(mt, sv[c]);
            }
#pragma unroll
            for (int off = TPR / 2; off > 0; off >>= 1) mt = fmaxf(mt, __shfl_xor_sync(FULL_MASK, mt, off));
            const float mOld = rowM[r];
            float mUse = mOld, corr = 1.0f;
            bool raise = false;
            if (mOld == -INFINITY) {
                mUse = mt; // O and l of this row are still 0: nothing to rescale
            } else if (mt > mOld + TC_RESCALE_LOG2) {
                mUse = mt;
                corr = exp2f(mOld - mt);
                raise = true;
            }
            float sum = 0.0f;
#pragma unroll
            for (int c = 0; c < CPT; c++) {
                // a finite score implies a finite mUse ≥ it − 8, so P ≤ 256
                const float p = sv[c] == -INFINITY ? 0.0f : exp2f(sv[c] - mUse);
                const unsigned short pb = bits16(p, T());
                prow[sub + TPR * c] = pb;
                sum += from16(pb, T());
            }
#pragma unroll
            for (int off = TPR / 2; off > 0; off >>= 1) sum += __shfl_xor_sync(FULL_MASK, sum, off);
            if (sub == 0) {
                rowM[r] = mUse;
                rowL[r] = rowL[r] * corr + sum;
                rowC[r] = corr;
                if (raise) flag[r / 16] = tile + 1;
            }
        }
        __syncthreads(); // (D) P, V, corr and flags ready; the scores are dead (Ss is scratch now)
        if (flag[rg] == tile + 1) { // warp-uniform
#pragma unroll
            for (int t = 0; t < NO; t++) {
                const int cf = warp / RG + (W / RG) * t;
                if (cf >= ncf) continue; // warp-uniform
                wmma::store_matrix_sync(scratch, acc[t], 16, wmma::mem_row_major);
                __syncwarp();
                for (int e = lane; e < 256; e += 32) scratch[e] *= rowC[rg * 16 + e / 16];
                __syncwarp();
                wmma::load_matrix_sync(acc[t], scratch, 16, wmma::mem_row_major);
                __syncwarp(); // every lane has read the scratch before it is overwritten
            }
        }
        const int kValid = min(TC_BN, Lk - k0); // key blocks past Lk hold P = 0 and V = 0: skip them
        for (int kk = 0; kk < kValid; kk += 16) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> pf;
            wmma::load_matrix_sync(pf, Ps + rg * 16 * ldp + kk, ldp);
#pragma unroll
            for (int t = 0; t < NO; t++) {
                const int cf = warp / RG + (W / RG) * t;
                if (cf >= ncf) continue; // warp-uniform
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> vf;
                wmma::load_matrix_sync(vf, KVs + kk * ldkv + cf * 16, ldkv);
                wmma::mma_sync(acc[t], pf, vf, acc[t]);
            }
        }
    }

    __syncthreads(); // row sums final (and Ss free as scratch even when the key loop never ran)
#pragma unroll
    for (int t = 0; t < NO; t++) {
        const int cf = warp / RG + (W / RG) * t;
        if (cf >= ncf) continue; // warp-uniform
        wmma::store_matrix_sync(scratch, acc[t], 16, wmma::mem_row_major);
        __syncwarp();
        for (int e = lane; e < 256; e += 32) {
            const int row = e / 16, i = q0 + rg * 16 + row, c = cf * 16 + e % 16;
            if (i >= Lq || c >= dv) continue;
            const float l = rowL[rg * 16 + row];
            st(o, ((i64)b * Lq + i) * vc + (i64)h * dv + c, l > 0.0f ? scratch[e] / l : 0.0f); // fully masked row: 0
        }
        __syncwarp();
    }
}

#define ATTENTION_TC(S, T) \
    extern "C" __global__ void __launch_bounds__(4 * 32) attention_tc64_##S(const T* q, const T* k, const T* v, T* o, \
            int Lq, int Lk, int heads, int d, int dv, float scale, int causal) { \
        attention_tc_impl<T, 4, 64>(q, k, v, o, Lq, Lk, heads, d, dv, scale, causal); } \
    extern "C" __global__ void __launch_bounds__(16 * 32) attention_tc512_##S(const T* q, const T* k, const T* v, T* o, \
            int Lq, int Lk, int heads, int d, int dv, float scale, int causal) { \
        attention_tc_impl<T, 16, 512>(q, k, v, o, Lq, Lk, heads, d, dv, scale, causal); }
ATTENTION_TC(f16, __half)
ATTENTION_TC(bf16, __nv_bfloat16)
