// Shared helpers for OneStep's CUDA kernels (included by every kernels/*.cu).
//
// Storage vs arithmetic: activations are stored as T in {float, __half, __nv_bfloat16} (the backend's compute
// dtype) and every kernel widens to float on load and rounds once on store, so all arithmetic, reductions and
// softmax run in fp32 whatever the storage type.
//
// Entry points are extern "C" (unmangled names the Java side looks up with cuModuleGetFunction) and come in one
// instantiation per storage type, suffixed _f32, _f16, _bf16. Kernel parameters are only pointers, int, long long
// and float: the Java launcher (KernelArgs) packs each into its own 8-byte slot, so the C types here and the
// Java call sites in CudaBackend must agree one to one. Element counts and flat indices are 64-bit.
#pragma once
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <math.h>

typedef long long i64;

__device__ __forceinline__ float ld(const float* p, i64 i) { return p[i]; }
__device__ __forceinline__ float ld(const __half* p, i64 i) { return __half2float(p[i]); }
__device__ __forceinline__ float ld(const __nv_bfloat16* p, i64 i) { return __bfloat162float(p[i]); }

__device__ __forceinline__ void st(float* p, i64 i, float v) { p[i] = v; }
__device__ __forceinline__ void st(__half* p, i64 i, float v) { p[i] = __float2half_rn(v); }
__device__ __forceinline__ void st(__nv_bfloat16* p, i64 i, float v) { p[i] = __float2bfloat16_rn(v); }

// Grid-stride loop over [0, n) with 64-bit indices.
#define GRID_STRIDE(i, n) \
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)gridDim.x * blockDim.x)

// One extern "C" entry point per storage type: X(suffix, type).
#define FOR_EACH_DTYPE(X) X(f32, float) X(f16, __half) X(bf16, __nv_bfloat16)

#define FULL_MASK 0xffffffffu

// Dynamic shared memory (the launch's sharedBytes): `DYNAMIC_SHARED(float, smem);` at the top of a kernel body.
// The CPU emulator (tools/cudaemu/emu.h) defines its own version before this header is read.
#ifndef DYNAMIC_SHARED
#define DYNAMIC_SHARED(type, name) extern __shared__ type name[]
#endif

// Sum over the warp, every lane gets it (float, or double where a merge needs it)
template <typename F>
__device__ __forceinline__ F warp_sum(F v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(FULL_MASK, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(FULL_MASK, v, o));
    return v;
}
