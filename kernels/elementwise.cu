// Layout and element-wise ops over channels-last tensors: add, axpby, per-channel adds (time embedding, bias, bias + residual),
// channel concat/slice, embedding gather, nearest upsample. Every op reads T, computes in float, writes T.
#include "common.cuh"

// y = a + b (y may alias a: addInPlace).
template <typename T>
__device__ void add_impl(const T* a, const T* b, T* y, i64 n) {
    GRID_STRIDE(i, n) st(y, i, ld(a, i) + ld(b, i));
}

// out = alpha·x + beta·y, or alpha·x when hasY == 0 (y is then not read).
template <typename T>
__device__ void axpby_impl(const T* __restrict__ x, const T* __restrict__ y, T* __restrict__ out, float alpha, float beta, int hasY, i64 n) {
    GRID_STRIDE(i, n) {
        float v = alpha * ld(x, i);
        if (hasY) v = fmaf(beta, ld(y, i), v);
        st(out, i, v);
    }
}

// x [N, P, C] + v [N, C] broadcast over the P positions; perSample = P·C.
template <typename T>
__device__ void add_per_channel_impl(const T* __restrict__ x, const T* __restrict__ v, T* __restrict__ y, i64 perSample, int C, i64 n) {
    GRID_STRIDE(i, n) {
        i64 b = i / perSample;
        int c = (int)(i % C);
        st(y, i, ld(x, i) + ld(v, b * C + c));
    }
}

// In place: y [rows, C] += bias[c] (fp32 bias; the GEMM/conv epilogue).
template <typename T>
__device__ void add_bias_impl(T* y, const float* __restrict__ bias, int C, i64 n) {
    GRID_STRIDE(i, n) st(y, i, ld(y, i) + bias[i % C]);
}

// In place: y [rows, C] = (y + bias[c]) + r, rounded once (the im2col/GEMM epilogue of conv2dAdd; bias fp32, may be
// null). r must not alias y (Backend.conv2dAdd's output is always a new tensor).
template <typename T>
__device__ void add_bias_residual_impl(T* __restrict__ y, const float* __restrict__ bias, const T* __restrict__ r, int C, i64 n) {
    GRID_STRIDE(i, n) {
        float v = ld(y, i);
        if (bias) v += bias[i % C];
        st(y, i, v + ld(r, i));
    }
}

// [rows, ca] ++ [rows, cb] → [rows, ca + cb]
template <typename T>
__device__ void concat_impl(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ y, i64 rows, int ca, int cb) {
    int c = ca + cb;
    GRID_STRIDE(i, rows * c) {
        i64 r = i / c;
        int j = (int)(i % c);
        y[i] = j < ca ? a[r * ca + j] : b[r * cb + (j - ca)];
    }
}

// x [rows, C] → y [rows, count] = x[:, start:start+count]
template <typename T>
__device__ void slice_impl(const T* __restrict__ x, T* __restrict__ y, i64 rows, int C, int start, int count) {
    GRID_STRIDE(i, rows * count) {
        i64 r = i / count;
        int j = (int)(i % count);
        y[i] = x[r * C + start + j];
    }
}

// table [V, C] fp32, ids [count] → y [count, C] in T
template <typename T>
__device__ void embedding_impl(const float* __restrict__ table, const int* __restrict__ ids, T* __restrict__ y, int count, int C) {
    GRID_STRIDE(i, (i64)count * C) {
        int r = (int)(i / C), j = (int)(i % C);
        st(y, i, table[(i64)ids[r] * C + j]);
    }
}

// PyTorch nearest: src = min(floor(dst · scale), in − 1) with scale = (float) in / out computed on the host
// (one float multiply here, no FMA contraction possible, so the index matches the CPU backend bit for bit).
template <typename T>
__device__ void upsample_impl(const T* __restrict__ x, T* __restrict__ y, int N, int H, int W, int C, int OH, int OW, float sh, float sw) {
    GRID_STRIDE(i, (i64)N * OH * OW * C) {
        int c = (int)(i % C);
        i64 t = i / C;
        int ox = (int)(t % OW); t /= OW;
        int oy = (int)(t % OH);
        int b = (int)(t / OH);
        int iy = min((int)floorf(__fmul_rn((float)oy, sh)), H - 1);
        int ix = min((int)floorf(__fmul_rn((float)ox, sw)), W - 1);
        y[i] = x[(((i64)b * H + iy) * W + ix) * C + c];
    }
}

#define ELEMENTWISE(S, T) \
    extern "C" __global__ void add_##S(const T* a, const T* b, T* y, i64 n) { add_impl<T>(a, b, y, n); } \
    extern "C" __global__ void axpby_##S(const T* x, const T* y, T* out, float alpha, float beta, int hasY, i64 n) { \
        axpby_impl<T>(x, y, out, alpha, beta, hasY, n); } \
    extern "C" __global__ void add_per_channel_##S(const T* x, const T* v, T* y, i64 perSample, int C, i64 n) { \
        add_per_channel_impl<T>(x, v, y, perSample, C, n); } \
    extern "C" __global__ void add_bias_##S(T* y, const float* bias, int C, i64 n) { add_bias_impl<T>(y, bias, C, n); } \
    extern "C" __global__ void add_bias_residual_##S(T* y, const float* bias, const T* r, int C, i64 n) { \
        add_bias_residual_impl<T>(y, bias, r, C, n); } \
    extern "C" __global__ void concat_channels_##S(const T* a, const T* b, T* y, i64 rows, int ca, int cb) { \
        concat_impl<T>(a, b, y, rows, ca, cb); } \
    extern "C" __global__ void slice_channels_##S(const T* x, T* y, i64 rows, int C, int start, int count) { \
        slice_impl<T>(x, y, rows, C, start, count); } \
    extern "C" __global__ void embedding_##S(const float* table, const int* ids, T* y, int count, int C) { \
        embedding_impl<T>(table, ids, y, count, C); } \
    extern "C" __global__ void upsample_nearest_##S(const T* x, T* y, int N, int H, int W, int C, int OH, int OW, float sh, float sw) { \
        upsample_impl<T>(x, y, N, H, W, C, OH, OW, sh, sw); }
FOR_EACH_DTYPE(ELEMENTWISE)
