// CPU emulation of the CUDA device-side language, force-included (g++ -include emu.h) when tools/cudaemu/build.sh
// compiles kernels/*.cu as host C++ into the fake libcuda.so.1.
//
// Model: a launch runs its blocks on a pool of OS threads (blocks in parallel, as on a GPU); inside a block every
// CUDA thread is a fiber (its own stack, switched by runtime.cpp) on that OS thread. A fiber runs until it reaches __syncthreads / __syncwarp /
// a warp shuffle, then the next fiber runs; a barrier releases when every live thread it names has arrived
// (exited threads do not block __syncthreads, as on Volta+). Consequences, all deliberate:
//   - __shared__ variables are `static thread_local`: one copy per OS thread = per running block;
//   - code that relies on implicit warp lock-step (no __syncwarp between a shared-memory write and another lane's
//     read) reads stale values here, as it may on Volta+ hardware: such races show up as wrong results;
//   - a barrier that some threads never reach (divergent __syncthreads, a shuffle whose mask names an exited lane)
//     is reported as an error of the launch instead of hanging;
//   - device memory is host memory, filled with 0xFF bytes (NaN in every float type) when allocated, so a kernel
//     that reads what nobody wrote produces NaN.
// What it does not model: timing, occupancy, register limits, memory-model subtleties across blocks, bank conflicts.
#pragma once
#define ONESTEP_CUDA_EMU 1

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <cmath>
#include <climits>
#include <type_traits>
#include <algorithm>
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <vector_types.h>

// CUDA's host_defines.h gives these attribute meanings for nvcc; here they are plain C++.
#undef __global__
#undef __device__
#undef __host__
#undef __forceinline__
#undef __shared__
#undef __launch_bounds__
#undef __noinline__
#undef __constant__
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __launch_bounds__(...)
#define __shared__ static thread_local
#define __constant__ static
// dynamic shared memory: `DYNAMIC_SHARED(float, smem);` (kernels/common.cuh maps it to extern __shared__ under nvcc)
#define DYNAMIC_SHARED(type, name) type* name = reinterpret_cast<type*>(emu::dynamic_shared())

namespace emu {

struct Fiber;  // runtime.cpp

// per OS thread (= per running block)
extern thread_local uint3 tl_blockIdx, tl_blockDim, tl_gridDim;
extern thread_local Fiber* tl_fiber;

uint3& thread_idx();                     // threadIdx of the running fiber
void* dynamic_shared();                  // this block's dynamic shared memory
void sync_block();                       // __syncthreads
void sync_warp(unsigned mask);           // __syncwarp / the barrier inside warp collectives
uint64_t* warp_slots();                  // 32 exchange slots of the running fiber's warp
int lane_id();
[[noreturn]] void fail(const char* what);

template <class T>
inline uint64_t to_bits(T v) {
    static_assert(sizeof(T) <= 8, "shuffle of a type wider than 8 bytes");
    uint64_t b = 0;
    std::memcpy(&b, &v, sizeof(T));
    return b;
}

template <class T>
inline T from_bits(uint64_t b) {
    T v;
    std::memcpy(&v, &b, sizeof(T));
    return v;
}

// Every lane in `mask` publishes v, meets the others, reads lane src's value (its own when src is outside the
// segment), meets again so nobody overwrites a slot before it was read.
template <class T>
inline T exchange(unsigned mask, T v, int src, bool valid) {
    uint64_t* s = warp_slots();
    int lane = lane_id();
    if (!(mask >> lane & 1u)) fail("warp shuffle called by a lane that is not in its mask");
    s[lane] = to_bits(v);
    sync_warp(mask);
    T r = v;
    if (valid) {
        if (!(mask >> src & 1u)) fail("warp shuffle reads a lane outside its mask (undefined on a GPU)");
        r = from_bits<T>(s[src]);
    }
    sync_warp(mask);
    return r;
}

}  // namespace emu

#define threadIdx (emu::thread_idx())
#define blockIdx (emu::tl_blockIdx)
#define blockDim (emu::tl_blockDim)
#define gridDim (emu::tl_gridDim)
#define warpSize 32

inline void __syncthreads() { emu::sync_block(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { emu::sync_warp(mask); }
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

template <class T>
inline T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
    int lane = emu::lane_id();
    int s = (lane & ~(width - 1)) + (src & (width - 1));
    return emu::exchange(mask, v, s, true);
}
template <class T>
inline T __shfl_xor_sync(unsigned mask, T v, int laneMask, int width = 32) {
    int lane = emu::lane_id();
    int s = lane ^ laneMask;
    bool ok = (s & ~(width - 1)) == (lane & ~(width - 1)) && s < 32;
    return emu::exchange(mask, v, ok ? s : lane, ok);
}
template <class T>
inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
    int lane = emu::lane_id();
    int s = lane + (int)delta;
    bool ok = (s & ~(width - 1)) == (lane & ~(width - 1)) && s < 32;
    return emu::exchange(mask, v, ok ? s : lane, ok);
}
template <class T>
inline T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
    int lane = emu::lane_id();
    int s = lane - (int)delta;
    bool ok = s >= (lane & ~(width - 1));
    return emu::exchange(mask, v, ok ? s : lane, ok);
}

inline unsigned __ballot_sync(unsigned mask, int pred) {
    uint64_t* s = emu::warp_slots();
    int lane = emu::lane_id();
    s[lane] = pred != 0;
    emu::sync_warp(mask);
    unsigned r = 0;
    for (int i = 0; i < 32; i++)
        if ((mask >> i & 1u) && s[i]) r |= 1u << i;
    emu::sync_warp(mask);
    return r;
}
inline int __any_sync(unsigned mask, int pred) { return __ballot_sync(mask, pred) != 0; }
inline int __all_sync(unsigned mask, int pred) { return __ballot_sync(mask, pred) == mask; }
inline unsigned __activemask() { return 0xffffffffu; }

// atomics (blocks run in parallel on OS threads)
inline float atomicAdd(float* p, float v) {
    float old, upd;
    __atomic_load(p, &old, __ATOMIC_RELAXED);
    do {
        upd = old + v;
    } while (!__atomic_compare_exchange(p, &old, &upd, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
    return old;
}
inline int atomicAdd(int* p, int v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
inline unsigned atomicAdd(unsigned* p, unsigned v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
inline int atomicMax(int* p, int v) {
    int old = __atomic_load_n(p, __ATOMIC_RELAXED);
    while (old < v && !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
    }
    return old;
}
inline int atomicMin(int* p, int v) {
    int old = __atomic_load_n(p, __ATOMIC_RELAXED);
    while (old > v && !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
    }
    return old;
}
inline int atomicExch(int* p, int v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }
inline int atomicCAS(int* p, int cmp, int v) {
    __atomic_compare_exchange_n(p, &cmp, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return cmp;
}

// CUDA's global min/max overloads for mixed integer and float arguments
template <class A, class B>
inline typename std::common_type<A, B>::type min(A a, B b) {
    typedef typename std::common_type<A, B>::type C;
    return (C)a < (C)b ? (C)a : (C)b;
}
template <class A, class B>
inline typename std::common_type<A, B>::type max(A a, B b) {
    typedef typename std::common_type<A, B>::type C;
    return (C)a > (C)b ? (C)a : (C)b;
}

// math intrinsics glibc lacks or names differently
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __powf(float x, float y) { return powf(x, y); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
inline float normcdff(float x) { return 0.5f * erfcf(-x * 0.70710678118654752f); }
inline float __int_as_float(int i) { return emu::from_bits<float>((uint32_t)i); }
inline int __float_as_int(float f) { return (int)(uint32_t)emu::to_bits(f); }
inline float __uint_as_float(unsigned i) { return emu::from_bits<float>(i); }
inline unsigned __float_as_uint(float f) { return (uint32_t)emu::to_bits(f); }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
template <class T>
inline T __ldg(const T* p) { return *p; }
