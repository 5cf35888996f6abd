// fp32 / fp16 / bf16 element access for the fake libraries (cuBLAS and cuDNN name the same three storage types
// with different enum values; each fake maps its own codes to Storage).
#pragma once
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <cstddef>

namespace emu {

enum class Storage { F32, F16, BF16 };

inline size_t storage_size(Storage s) { return s == Storage::F32 ? 4 : 2; }

inline float load(const void* p, Storage s, size_t i) {
    switch (s) {
        case Storage::F32: return ((const float*)p)[i];
        case Storage::F16: return __half2float(((const __half*)p)[i]);
        default: return __bfloat162float(((const __nv_bfloat16*)p)[i]);
    }
}

inline void store(void* p, Storage s, size_t i, float v) {
    switch (s) {
        case Storage::F32: ((float*)p)[i] = v; break;
        case Storage::F16: ((__half*)p)[i] = __float2half_rn(v); break;
        default: ((__nv_bfloat16*)p)[i] = __float2bfloat16_rn(v);
    }
}

}  // namespace emu
