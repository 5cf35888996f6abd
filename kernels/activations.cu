// SiLU, exact GELU and GEGLU. GELU uses normcdff (Φ in float, accurate in the tails where 1 + erf(x/√2) would
// cancel), matching the reference's x·erfc(−x/√2)/2.
#include "common.cuh"

__device__ __forceinline__ float silu_f(float x) { return x / (1.0f + expf(-x)); }
__device__ __forceinline__ float gelu_f(float x) { return x * normcdff(x); }

template <typename T>
__device__ void silu_impl(const T* __restrict__ x, T* __restrict__ y, i64 n) {
    GRID_STRIDE(i, n) st(y, i, silu_f(ld(x, i)));
}

template <typename T>
__device__ void gelu_impl(const T* __restrict__ x, T* __restrict__ y, i64 n) {
    GRID_STRIDE(i, n) st(y, i, gelu_f(ld(x, i)));
}

// x [rows, 2F] → y [rows, F]: y = x[:, :F] · gelu(x[:, F:])  (diffusers GEGLU: hidden, gate = chunk(2))
template <typename T>
__device__ void geglu_impl(const T* __restrict__ x, T* __restrict__ y, i64 rows, int F) {
    GRID_STRIDE(i, rows * F) {
        i64 r = i / F;
        int j = (int)(i % F);
        const T* xr = x + r * 2 * F;
        st(y, i, ld(xr, j) * gelu_f(ld(xr, F + j)));
    }
}

#define ACTIVATIONS(S, T) \
    extern "C" __global__ void silu_##S(const T* x, T* y, i64 n) { silu_impl<T>(x, y, n); } \
    extern "C" __global__ void gelu_##S(const T* x, T* y, i64 n) { gelu_impl<T>(x, y, n); } \
    extern "C" __global__ void geglu_##S(const T* x, T* y, i64 rows, int F) { geglu_impl<T>(x, y, rows, F); }
FOR_EACH_DTYPE(ACTIVATIONS)
