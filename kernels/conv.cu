// Convolution helpers. cuDNN does the convolutions themselves (CudaBackend); these kernels prepare what it and
// the GEMM fallback need:
//   permute_oihw_to_ohwi: PyTorch weights [O, I, kh, kw] → [O, kh, kw, I] (cuDNN's NHWC filter layout "KRSC",
//                         and the row layout the im2col GEMM multiplies against);
//   pad_nhwc:             explicit zero padding for asymmetric pads (the VAE downsampler's (0,1,0,1)), which the
//                         legacy cuDNN descriptor cannot express;
//   im2col_nhwc:          the fallback path (no cuDNN): columns [rows, kh·kw·I] for a range of output positions,
//                         K ordered (ky, kx, c) to match the permuted weights, so conv = cols · Wᵀ by cuBLAS.
#include "common.cuh"

template <typename T>
__device__ void permute_impl(const T* __restrict__ w, T* __restrict__ y, int O, int I, int kh, int kw) {
    i64 n = (i64)O * I * kh * kw;
    GRID_STRIDE(idx, n) {
        // idx enumerates the OUTPUT [o][ky][kx][c] so writes are coalesced
        int c = (int)(idx % I);
        i64 t = idx / I;
        int kx = (int)(t % kw); t /= kw;
        int ky = (int)(t % kh);
        int o = (int)(t / kh);
        y[idx] = w[(((i64)o * I + c) * kh + ky) * kw + kx];
    }
}

// x [N, H, W, C] → y [N, H + top + bottom, W + left + right, C] (OH, OW passed), zeros outside.
template <typename T>
__device__ void pad_impl(const T* __restrict__ x, T* __restrict__ y, int N, int H, int W, int C, int top, int left, int OH, int OW) {
    i64 n = (i64)N * OH * OW * C;
    GRID_STRIDE(idx, n) {
        int c = (int)(idx % C);
        i64 t = idx / C;
        int ox = (int)(t % OW); t /= OW;
        int oy = (int)(t % OH);
        int b = (int)(t / OH);
        int iy = oy - top, ix = ox - left;
        y[idx] = (iy >= 0 && iy < H && ix >= 0 && ix < W) ? x[(((i64)b * H + iy) * W + ix) * C + c] : (T)0.0f;
    }
}

// cols [rows, kh·kw·C] for output positions [row0, row0 + rows) of the flattened [N, OH, OW] grid.
template <typename T>
__device__ void im2col_impl(const T* __restrict__ x, T* __restrict__ cols, int N, int H, int W, int C, int kh, int kw,
                            int stride, int padTop, int padLeft, int OH, int OW, i64 row0, i64 rows) {
    i64 K = (i64)kh * kw * C;
    i64 n = rows * K;
    GRID_STRIDE(idx, n) {
        i64 r = idx / K;
        int k = (int)(idx % K);
        int c = k % C;
        int tap = k / C;
        int kx = tap % kw, ky = tap / kw;
        i64 p = row0 + r;
        int ox = (int)(p % OW);
        i64 t = p / OW;
        int oy = (int)(t % OH);
        int b = (int)(t / OH);
        int iy = oy * stride - padTop + ky, ix = ox * stride - padLeft + kx;
        cols[idx] = (iy >= 0 && iy < H && ix >= 0 && ix < W) ? x[(((i64)b * H + iy) * W + ix) * C + c] : (T)0.0f;
    }
}

#define CONV_HELPERS(S, T) \
    extern "C" __global__ void permute_oihw_to_ohwi_##S(const T* w, T* y, int O, int I, int kh, int kw) { \
        permute_impl<T>(w, y, O, I, kh, kw); } \
    extern "C" __global__ void pad_nhwc_##S(const T* x, T* y, int N, int H, int W, int C, int top, int left, int OH, int OW) { \
        pad_impl<T>(x, y, N, H, W, C, top, left, OH, OW); } \
    extern "C" __global__ void im2col_nhwc_##S(const T* x, T* cols, int N, int H, int W, int C, int kh, int kw, int stride, \
                                              int padTop, int padLeft, int OH, int OW, i64 row0, i64 rows) { \
        im2col_impl<T>(x, cols, N, H, W, C, kh, kw, stride, padTop, padLeft, OH, OW, row0, rows); }
FOR_EACH_DTYPE(CONV_HELPERS)
