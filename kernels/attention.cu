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
#include "tensorcore.cuh" // bits16 / from16 here; mma.sync, ldmatrix, cp.async for attention_fa below

#define TC_BM 64
#define TC_BN 64
#define TC_PAD 8
#define TC_RESCALE_LOG2 8.0f

__host__ __device__ __forceinline__ int round16(int x) { return (x + 15) & ~15; }

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
            // every lane of the row read rowM[r] above; order those reads before lane 0 overwrites it (a shuffle
            // orders them in practice, but only a __syncwarp does for compute-sanitizer's racecheck)
            __syncwarp();
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

// ---------------------------------------------------------------------------------------------------------------
// attention_fa64: d = dv = 64 with fp16/bf16 storage (every UNet and CLIP head of SD2), FlashAttention-2 style on
// mma.sync m16n8k16 with the fragments in registers (layouts in tensorcore.cuh), instead of attention_tc64's trips
// through shared memory for the scores, the probabilities and every rescale.
//   grid (ceil(Lq / BM), N·heads), block W warps, BM = 16·W query rows; warp w owns rows 16w..16w+15.
//   attention_fa64: W = 4 (BM = 64); attention_fa96: W = 6; attention_fa128: W = 8 (BM = 128: half the K/V traffic
//   per query of BM = 64). The host picks by -Donestep.cuda.faRows (default 128).
//   Q [BM][72] is loaded once and kept as A fragments (4 k-steps × 4 registers). K and V tiles of 64 keys are
//   double-buffered in shared memory ([2][64][72] each, 16-bit; the +8 pad makes every ldmatrix conflict-free) and
//   fetched with cp.async one tile ahead, so the next tile's loads overlap this tile's math.
//   Per tile: S = Q·Kᵀ (8 n-tiles of 8 keys × 4 k-steps, fp32 in registers: rows g and g+8 of the warp's 16, keys
//   8n + 2t, +1); masked (key ≥ Lk, causal key > query) to −∞; online softmax in log2 units with the running max
//   per row shared by the 4 lanes of a quad (two shuffles); O (8 n-tiles of dv, fp32) rescaled in registers;
//   P rounded to the storage type and re-packed, without moving, as the A fragments of P·V (the C layout of two
//   adjacent 8-key n-tiles is the A layout of one 16-key k-step); V read with ldmatrix.trans.
//   The running row sum l adds the rounded P, so the weights the tensor cores multiply are the ones it normalises
//   by (as attention_tc64); each lane keeps a partial l over its columns, summed across the quad at the end.
// Shared memory: (BM + 4·64)·72·2 = 46,080 bytes for BM = 64 (under the 48 KB default), 50,688 for BM = 96,
// 55,296 for BM = 128 (CudaBackend.faSmem).
// Needs q, k, v 16-byte aligned (cp.async; the host checks) and o 4-byte aligned (two values per store).

#define FA_BN 64
#define FA_LD 72

// rows × CPR chunks of 16 bytes (row stride `stride` elements) → dst [rows][LD] by NT threads with cp.async; rows ≥
// valid are zero-filled (and not read). attention_fa512 below uses it too.
template <int NT, int CPR, int LD>
__device__ __forceinline__ void fa_load_rows(unsigned short* dst, const unsigned short* src, i64 stride, int rows, int valid) {
    for (int idx = threadIdx.x; idx < rows * CPR; idx += NT) {
        const int r = idx / CPR, c = (idx % CPR) * 8;
        const bool ok = r < valid;
        cp_async16(dst + r * LD + c, ok ? src + r * stride + c : src, ok);
    }
}

// A block's slice of the problem for a head of width D: its query block's first row and the head's rows of q, k, v
// (16-bit; row stride heads·D elements), and how many key tiles of BN it visits (a causal block stops at q0 + BM).
struct FaSlice {
    const unsigned short *qb, *kb, *vb;
    i64 stride;
    int b, h, q0, ntiles;
};

template <int D>
__device__ __forceinline__ FaSlice fa_slice(const void* q, const void* k, const void* v, int Lq, int Lk, int heads, int BM, int BN, int causal) {
    FaSlice f;
    f.b = blockIdx.y / heads;
    f.h = blockIdx.y % heads;
    f.stride = (i64)heads * D;
    f.q0 = blockIdx.x * BM;
    f.qb = reinterpret_cast<const unsigned short*>(q) + ((i64)f.b * Lq + f.q0) * f.stride + (i64)f.h * D;
    f.kb = reinterpret_cast<const unsigned short*>(k) + (i64)f.b * Lk * f.stride + (i64)f.h * D;
    f.vb = reinterpret_cast<const unsigned short*>(v) + (i64)f.b * Lk * f.stride + (i64)f.h * D;
    const int kEnd = causal ? min(Lk, f.q0 + BM) : Lk;
    f.ntiles = (kEnd + BN - 1) / BN;
    return f;
}

// Online-softmax pieces shared by attention_fa64 and attention_fa512 (scores in log2 units, −∞ = masked):
// the factor that rescales O and l when a row's running max rises from mOld to mNew (a row with nothing unmasked yet
// keeps O = 0 and l = 0: no −∞ − −∞), and a pair of probabilities exp2(s − m) rounded to T and packed into one
// register, their rounded values added to sum (the normaliser sums exactly what the tensor cores multiply).
__device__ __forceinline__ float fa_rescale(float mOld, float mNew) { return mNew == -INFINITY ? 1.0f : exp2f(mOld - mNew); }

template <typename T>
__device__ __forceinline__ unsigned fa_probs(float s0, float s1, float m, float& sum) {
    const float p0 = s0 == -INFINITY ? 0.0f : exp2f(s0 - m);
    const float p1 = s1 == -INFINITY ? 0.0f : exp2f(s1 - m);
    const unsigned pk = pack16(p0, p1, T());
    sum += lo16(pk, T()) + hi16(pk, T());
    return pk;
}

template <typename T, int W>
__device__ void attention_fa64_impl(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v, T* __restrict__ o,
                                    int Lq, int Lk, int heads, float scale, int causal) {
    constexpr int FA_BM = 16 * W, NT = 32 * W;
    DYNAMIC_SHARED(tc_smem_unit, smem_units);
    unsigned short* Qs = reinterpret_cast<unsigned short*>(smem_units); // [BM][72]
    unsigned short* Ks = Qs + FA_BM * FA_LD;                            // [2][64][72]
    unsigned short* Vs = Ks + 2 * FA_BN * FA_LD;                        // [2][64][72]
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t4 = lane & 3;
    const int mi = lane >> 3, mr = lane & 7; // ldmatrix: this lane addresses row mr of matrix mi
    const FaSlice f = fa_slice<64>(q, k, v, Lq, Lk, heads, FA_BM, FA_BN, causal);
    const int b = f.b, h = f.h, q0 = f.q0, ntiles = f.ntiles;
    const i64 qc = f.stride;
    const unsigned short *qb = f.qb, *kb = f.kb, *vb = f.vb;

    fa_load_rows<NT, 8, FA_LD>(Qs, qb, qc, FA_BM, Lq - q0);
    cp_async_commit();
    if (ntiles > 0) {
        fa_load_rows<NT, 8, FA_LD>(Ks, kb, qc, FA_BN, Lk);
        fa_load_rows<NT, 8, FA_LD>(Vs, vb, qc, FA_BN, Lk);
    }
    cp_async_commit();
    cp_async_wait<1>(); // Q has landed (this thread's part)
    __syncthreads();
    unsigned qf[4][4]; // A fragments of the warp's 16 rows, k-steps of 16 channels
#pragma unroll
    for (int ks = 0; ks < 4; ks++) ldmatrix_x4(qf[ks], Qs + (16 * warp + (mi & 1) * 8 + mr) * FA_LD + ks * 16 + (mi >> 1) * 8);

    float acc[8][4]; // O: dv n-tile n, rows g / g+8, columns 8n + 2t, +1
#pragma unroll
    for (int n = 0; n < 8; n++) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.0f;
    float mrow[2] = {-INFINITY, -INFINITY}, lrow[2] = {0.0f, 0.0f};
    const float sl2 = scale * 1.4426950408889634f;
    const int row0 = q0 + 16 * warp + g; // this lane's rows: row0, row0 + 8

    for (int j = 0; j < ntiles; j++) {
        cp_async_wait<0>();
        __syncthreads(); // tile j visible to all; every warp is done with tile j − 1, whose buffers the next loads reuse
        if (j + 1 < ntiles) {
            const int nb = (j + 1) & 1;
            fa_load_rows<NT, 8, FA_LD>(Ks + nb * FA_BN * FA_LD, kb + (i64)(j + 1) * FA_BN * qc, qc, FA_BN, Lk - (j + 1) * FA_BN);
            fa_load_rows<NT, 8, FA_LD>(Vs + nb * FA_BN * FA_LD, vb + (i64)(j + 1) * FA_BN * qc, qc, FA_BN, Lk - (j + 1) * FA_BN);
        }
        cp_async_commit();
        const unsigned short* Kt = Ks + (j & 1) * FA_BN * FA_LD;
        const unsigned short* Vt = Vs + (j & 1) * FA_BN * FA_LD;
        const int k0 = j * FA_BN;

        float s[8][4];
#pragma unroll
        for (int n = 0; n < 8; n++) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
#pragma unroll
        for (int nb = 0; nb < 4; nb++) {     // 16 keys: n-tiles 2nb, 2nb + 1
#pragma unroll
            for (int ks = 0; ks < 4; ks++) { // 16 channels
                unsigned kr[4];
                ldmatrix_x4(kr, Kt + (nb * 16 + (mi >> 1) * 8 + mr) * FA_LD + ks * 16 + (mi & 1) * 8);
                mma_16816<T>(s[2 * nb], qf[ks], kr[0], kr[1]);
                mma_16816<T>(s[2 * nb + 1], qf[ks], kr[2], kr[3]);
            }
        }
        // scores in log2 units; masked ones −∞ (only the last tile and causal diagonal tiles need the test)
        const bool mask = k0 + FA_BN > Lk || (causal && k0 + FA_BN - 1 > q0 + 16 * warp);
#pragma unroll
        for (int n = 0; n < 8; n++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                float x = s[n][e] * sl2;
                if (mask) {
                    const int key = k0 + 8 * n + 2 * t4 + (e & 1), row = row0 + (e >> 1) * 8;
                    if (key >= Lk || (causal && key > row)) x = -INFINITY;
                }
                s[n][e] = x;
            }
        unsigned pa[4][4]; // P as A fragments: k-step kk = keys 16kk..16kk+15 = n-tiles 2kk, 2kk + 1
#pragma unroll
        for (int r = 0; r < 2; r++) { // rows g (elements 0, 1) and g + 8 (elements 2, 3)
            float mx = -INFINITY;
#pragma unroll
            for (int n = 0; n < 8; n++) mx = fmaxf(mx, fmaxf(s[n][2 * r], s[n][2 * r + 1]));
            mx = fmaxf(mx, __shfl_xor_sync(FULL_MASK, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(FULL_MASK, mx, 2));
            const float mNew = fmaxf(mrow[r], mx);
            const float corr = fa_rescale(mrow[r], mNew);
            mrow[r] = mNew;
            float sum = 0.0f;
#pragma unroll
            for (int n = 0; n < 8; n++) pa[n >> 1][(n & 1) * 2 + r] = fa_probs<T>(s[n][2 * r], s[n][2 * r + 1], mNew, sum);
            lrow[r] = lrow[r] * corr + sum;
#pragma unroll
            for (int n = 0; n < 8; n++) {
                acc[n][2 * r] *= corr;
                acc[n][2 * r + 1] *= corr;
            }
        }
        // O += P·V
#pragma unroll
        for (int kk = 0; kk < 4; kk++) {
#pragma unroll
            for (int dp = 0; dp < 4; dp++) { // dv n-tiles 2dp, 2dp + 1
                unsigned vr[4];
                ldmatrix_x4_trans(vr, Vt + (kk * 16 + (mi & 1) * 8 + mr) * FA_LD + dp * 16 + (mi >> 1) * 8);
                mma_16816<T>(acc[2 * dp], pa[kk], vr[0], vr[1]);
                mma_16816<T>(acc[2 * dp + 1], pa[kk], vr[2], vr[3]);
            }
        }
    }
    cp_async_wait<0>(); // nothing may be in flight when the block exits

#pragma unroll
    for (int r = 0; r < 2; r++) {
        float l = lrow[r];
        l += __shfl_xor_sync(FULL_MASK, l, 1);
        l += __shfl_xor_sync(FULL_MASK, l, 2);
        const int row = row0 + 8 * r;
        if (row >= Lq) continue;
        const float inv = l > 0.0f ? 1.0f / l : 0.0f; // a fully masked row gives 0
        unsigned* orow = reinterpret_cast<unsigned*>(reinterpret_cast<unsigned short*>(o) + ((i64)b * Lq + row) * qc + (i64)h * 64);
#pragma unroll
        for (int n = 0; n < 8; n++) orow[4 * n + t4] = pack16(acc[n][2 * r] * inv, acc[n][2 * r + 1] * inv, T());
    }
}

#define ATTENTION_FA(S, T) \
    extern "C" __global__ void __launch_bounds__(128) attention_fa64_##S(const T* q, const T* k, const T* v, T* o, \
            int Lq, int Lk, int heads, int d, int dv, float scale, int causal) { /* d = dv = 64: the same arguments as the others */ \
        attention_fa64_impl<T, 4>(q, k, v, o, Lq, Lk, heads, scale, causal); } \
    extern "C" __global__ void __launch_bounds__(192) attention_fa96_##S(const T* q, const T* k, const T* v, T* o, \
            int Lq, int Lk, int heads, int d, int dv, float scale, int causal) { \
        attention_fa64_impl<T, 6>(q, k, v, o, Lq, Lk, heads, scale, causal); } \
    extern "C" __global__ void __launch_bounds__(256) attention_fa128_##S(const T* q, const T* k, const T* v, T* o, \
            int Lq, int Lk, int heads, int d, int dv, float scale, int causal) { \
        attention_fa64_impl<T, 8>(q, k, v, o, Lq, Lk, heads, scale, causal); }
ATTENTION_FA(f16, __half)
ATTENTION_FA(bf16, __nv_bfloat16)

// ---------------------------------------------------------------------------------------------------------------
// attention_fa512_{64,80}: d = dv = 512 with fp16/bf16 storage (the VAE mid-block's single head), fragments in
// registers as attention_fa64, for a head too wide for one warp to hold a row group's O (16 × 512 fp32 = 256
// registers a lane). BM = 16·RG query rows per block (RG = 4 or 5 row groups), 2·RG warps, 32-key tiles:
//   warp w: row group rg = w % RG, half h = w / RG.
//   S phase:  warp (rg, h) computes S for its 16 rows × keys 16h..16h+15 of the tile (2 n-tiles, 32 k-steps of
//             16 channels; Q and K fragments by ldmatrix from shared memory). Each row's tile max is the larger of
//             the two halves' (exchanged through shared memory): both warps of a row group derive the same running
//             max and rescale factor.
//   P:        rounded to the storage type into Ps [BM][40] (shared), so each PV warp sees all 32 keys.
//   PV phase: warp (rg, h) owns O[16 rows][256 columns 256h..256h+255] (32 n-tiles, 128 fp32 registers a lane).
//   l:        each lane sums the rounded P of its own columns; the halves and the quad are added at the end.
// K and V tiles are double-buffered with cp.async, one tile ahead. Three barriers per tile: tile ready, row maxima
// exchanged, P written.
// Shared memory (bytes): Q BM·520·2 + K, V 2·2·32·520·2 + P BM·40·2 + row scratch 2·BM·4 = 1128·BM + 133,120:
// 205,312 for BM = 64, 223,360 for BM = 80 (Hopper's opt-in allows 232,448; A100's 166,912 allows neither, and the
// host then uses attention_tc512). One block per SM: the host takes the BM whose grid fills the SMs in the fewest
// rounds (at 768², 9,216 rows: BM = 80 → 116 blocks, one round on 132 SMs; BM = 64 → 144, two). CudaBackend.fa512Smem.
#define FA5_LD 520
#define FA5_LDP 40
#define FA5_BN 32

template <typename T, int RG>
__device__ void attention_fa512_impl(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v, T* __restrict__ o,
                                     int Lq, int Lk, int heads, float scale, int causal) {
    constexpr int BM = 16 * RG, NT = 64 * RG;
    DYNAMIC_SHARED(tc_smem_unit, smem_units);
    unsigned short* Qs = reinterpret_cast<unsigned short*>(smem_units); // [BM][520]
    unsigned short* Ks = Qs + BM * FA5_LD;                              // [2][32][520]
    unsigned short* Vs = Ks + 2 * FA5_BN * FA5_LD;                      // [2][32][520]
    unsigned short* Ps = Vs + 2 * FA5_BN * FA5_LD;                      // [BM][40]
    float* red = reinterpret_cast<float*>(Ps + BM * FA5_LDP);           // [2][BM] per-half row maxima, then row sums
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t4 = lane & 3;
    const int mi = lane >> 3, mr = lane & 7;
    const int rg = warp % RG, half = warp / RG;
    const FaSlice f = fa_slice<512>(q, k, v, Lq, Lk, heads, BM, FA5_BN, causal);
    const int b = f.b, h = f.h, q0 = f.q0, ntiles = f.ntiles;
    const i64 qc = f.stride;
    const unsigned short *qb = f.qb, *kb = f.kb, *vb = f.vb;

    fa_load_rows<NT, 64, FA5_LD>(Qs, qb, qc, BM, Lq - q0);
    if (ntiles > 0) {
        fa_load_rows<NT, 64, FA5_LD>(Ks, kb, qc, FA5_BN, Lk);
        fa_load_rows<NT, 64, FA5_LD>(Vs, vb, qc, FA5_BN, Lk);
    }
    cp_async_commit();

    float acc[32][4]; // O: n-tile n = columns 256·half + 8n + 2t, +1; rows g / g+8 of the row group
#pragma unroll
    for (int n = 0; n < 32; n++) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.0f;
    float mrow[2] = {-INFINITY, -INFINITY}, lrow[2] = {0.0f, 0.0f};
    const float sl2 = scale * 1.4426950408889634f;
    const int lr0 = 16 * rg + g; // this lane's rows in the block: lr0, lr0 + 8

    for (int j = 0; j < ntiles; j++) {
        cp_async_wait<0>();
        __syncthreads(); // (A) tile j (and Q) visible; the last tile's PV is done with Ps and the other buffers
        if (j + 1 < ntiles) {
            const int nb = (j + 1) & 1, kn = (j + 1) * FA5_BN;
            fa_load_rows<NT, 64, FA5_LD>(Ks + nb * FA5_BN * FA5_LD, kb + (i64)kn * qc, qc, FA5_BN, Lk - kn);
            fa_load_rows<NT, 64, FA5_LD>(Vs + nb * FA5_BN * FA5_LD, vb + (i64)kn * qc, qc, FA5_BN, Lk - kn);
        }
        cp_async_commit();
        const unsigned short* Kt = Ks + (j & 1) * FA5_BN * FA5_LD;
        const unsigned short* Vt = Vs + (j & 1) * FA5_BN * FA5_LD;
        const int k0 = j * FA5_BN;

        float s[2][4] = {{0.0f, 0.0f, 0.0f, 0.0f}, {0.0f, 0.0f, 0.0f, 0.0f}};
#pragma unroll 4
        for (int ks = 0; ks < 32; ks++) {
            unsigned qa[4], kr[4];
            ldmatrix_x4(qa, Qs + (16 * rg + (mi & 1) * 8 + mr) * FA5_LD + ks * 16 + (mi >> 1) * 8);
            ldmatrix_x4(kr, Kt + (16 * half + (mi >> 1) * 8 + mr) * FA5_LD + ks * 16 + (mi & 1) * 8);
            mma_16816<T>(s[0], qa, kr[0], kr[1]);
            mma_16816<T>(s[1], qa, kr[2], kr[3]);
        }
        const bool mask = k0 + FA5_BN > Lk || (causal && k0 + FA5_BN - 1 > q0 + 16 * rg);
#pragma unroll
        for (int n = 0; n < 2; n++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                float x = s[n][e] * sl2;
                if (mask) {
                    const int key = k0 + 16 * half + 8 * n + 2 * t4 + (e & 1), row = q0 + lr0 + (e >> 1) * 8;
                    if (key >= Lk || (causal && key > row)) x = -INFINITY;
                }
                s[n][e] = x;
            }
#pragma unroll
        for (int r = 0; r < 2; r++) {
            float mx = fmaxf(fmaxf(s[0][2 * r], s[0][2 * r + 1]), fmaxf(s[1][2 * r], s[1][2 * r + 1]));
            mx = fmaxf(mx, __shfl_xor_sync(FULL_MASK, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(FULL_MASK, mx, 2));
            if (t4 == 0) red[half * BM + lr0 + 8 * r] = mx;
        }
        __syncthreads(); // (B) both halves' row maxima
#pragma unroll
        for (int r = 0; r < 2; r++) {
            const int lr = lr0 + 8 * r;
            const float mNew = fmaxf(mrow[r], fmaxf(red[lr], red[BM + lr]));
            const float corr = fa_rescale(mrow[r], mNew);
            mrow[r] = mNew;
            float sum = 0.0f;
#pragma unroll
            for (int n = 0; n < 2; n++)
                *reinterpret_cast<unsigned*>(Ps + lr * FA5_LDP + 16 * half + 8 * n + 2 * t4) = fa_probs<T>(s[n][2 * r], s[n][2 * r + 1], mNew, sum);
            lrow[r] = lrow[r] * corr + sum;
#pragma unroll
            for (int n = 0; n < 32; n++) {
                acc[n][2 * r] *= corr;
                acc[n][2 * r + 1] *= corr;
            }
        }
        __syncthreads(); // (C) P complete (and red read by everyone before the next tile rewrites it)
#pragma unroll
        for (int kk = 0; kk < 2; kk++) {
            unsigned pa[4];
            ldmatrix_x4(pa, Ps + (16 * rg + (mi & 1) * 8 + mr) * FA5_LDP + kk * 16 + (mi >> 1) * 8);
#pragma unroll
            for (int dp = 0; dp < 16; dp++) {
                unsigned vr[4];
                ldmatrix_x4_trans(vr, Vt + (kk * 16 + (mi & 1) * 8 + mr) * FA5_LD + 256 * half + dp * 16 + (mi >> 1) * 8);
                mma_16816<T>(acc[2 * dp], pa, vr[0], vr[1]);
                mma_16816<T>(acc[2 * dp + 1], pa, vr[2], vr[3]);
            }
        }
    }
    cp_async_wait<0>();

    // l per row = both halves' partial sums over the quad
#pragma unroll
    for (int r = 0; r < 2; r++) {
        lrow[r] += __shfl_xor_sync(FULL_MASK, lrow[r], 1);
        lrow[r] += __shfl_xor_sync(FULL_MASK, lrow[r], 2);
    }
    __syncthreads(); // red is free (also when the key loop never ran)
    if (t4 == 0) {
        red[half * BM + lr0] = lrow[0];
        red[half * BM + lr0 + 8] = lrow[1];
    }
    __syncthreads();
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int lr = lr0 + 8 * r, row = q0 + lr;
        if (row >= Lq) continue;
        const float l = red[lr] + red[BM + lr];
        const float inv = l > 0.0f ? 1.0f / l : 0.0f; // a fully masked row gives 0
        unsigned* orow = reinterpret_cast<unsigned*>(reinterpret_cast<unsigned short*>(o) + ((i64)b * Lq + row) * qc + (i64)h * 512 + 256 * half);
#pragma unroll
        for (int n = 0; n < 32; n++) orow[4 * n + t4] = pack16(acc[n][2 * r] * inv, acc[n][2 * r + 1] * inv, T());
    }
}

#define ATTENTION_FA512(S, T) \
    extern "C" __global__ void __launch_bounds__(256, 1) attention_fa512_64_##S(const T* q, const T* k, const T* v, T* o, \
            int Lq, int Lk, int heads, int d, int dv, float scale, int causal) { \
        attention_fa512_impl<T, 4>(q, k, v, o, Lq, Lk, heads, scale, causal); } \
    extern "C" __global__ void __launch_bounds__(320, 1) attention_fa512_80_##S(const T* q, const T* k, const T* v, T* o, \
            int Lq, int Lk, int heads, int d, int dv, float scale, int causal) { \
        attention_fa512_impl<T, 5>(q, k, v, o, Lq, Lk, heads, scale, causal); }
ATTENTION_FA512(f16, __half)
ATTENTION_FA512(bf16, __nv_bfloat16)
