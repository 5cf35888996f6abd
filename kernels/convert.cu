// Dtype conversion between the three floating storage types (upload of checkpoint tensors in any dtype to the
// compute dtype; download of compute-dtype tensors as F32). Round-to-nearest-even on narrowing, as the CPU side's
// DType.f32ToBf16 / Float.floatToFloat16.
#include "common.cuh"

template <typename S, typename D>
__device__ void convert_impl(const S* __restrict__ x, D* __restrict__ y, i64 n) {
    GRID_STRIDE(i, n) st(y, i, ld(x, i));
}

#define CONVERT(SS, ST, DS, DT) \
    extern "C" __global__ void convert_##SS##_to_##DS(const ST* x, DT* y, i64 n) { convert_impl<ST, DT>(x, y, n); }
#define CONVERT_FROM(SS, ST) CONVERT(SS, ST, f32, float) CONVERT(SS, ST, f16, __half) CONVERT(SS, ST, bf16, __nv_bfloat16)
FOR_EACH_DTYPE(CONVERT_FROM)
