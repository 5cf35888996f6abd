// Warp-level tensor-core primitives of sm_80+ as PTX (mma.sync m16n8k16, ldmatrix, cp.async), for kernels that
// keep fragments in registers and so need to know which lane holds which element (PTX ISA, "Matrix Fragments for
// mma.m16n8k16"; g = lane / 4, t = lane % 4):
//   A 16×16 (row):  a[0] = (row g,   cols 2t, 2t+1)   a[1] = (row g+8, cols 2t, 2t+1)
//                   a[2] = (row g,   cols 2t+8, +9)   a[3] = (row g+8, cols 2t+8, +9)
//   B 16×8  (col):  b[0] = (rows 2t, 2t+1, col g)     b[1] = (rows 2t+8, 2t+9, col g)
//   C/D 16×8 fp32:  c[0], c[1] = (row g, cols 2t, 2t+1)   c[2], c[3] = (row g+8, cols 2t, 2t+1)
// Each 32-bit register packs two 16-bit values, the lower column (or row, for B) in the low half.
// ldmatrix x4: lane l gives the address of row l % 8 of matrix l / 8; lane l receives, from each matrix i, row l / 4,
// columns 2(l % 4) and 2(l % 4) + 1 (with .trans: rows 2(l % 4) and 2(l % 4) + 1 of column l / 4).
// Under the CPU emulator (tools/cudaemu) the same functions are implemented by exchanging registers between the
// lanes' fibers (tools/cudaemu/shim/tensorcore_emu.h), with the layouts above, so a kernel that gets a layout wrong
// fails there as it would on a GPU.
#pragma once
#include "common.cuh"

// one 16-bit value: float → its bits (rounded to nearest even) and back; the tag argument picks fp16 or bf16
__device__ __forceinline__ unsigned short bits16(float v, __half) { return __half_as_ushort(__float2half_rn(v)); }
__device__ __forceinline__ unsigned short bits16(float v, __nv_bfloat16) { return __bfloat16_as_ushort(__float2bfloat16_rn(v)); }
__device__ __forceinline__ float from16(unsigned short b, __half) { return __half2float(__ushort_as_half(b)); }
__device__ __forceinline__ float from16(unsigned short b, __nv_bfloat16) { return __bfloat162float(__ushort_as_bfloat16(b)); }

#ifdef ONESTEP_CUDA_EMU
#include "tensorcore_emu.h"
#else

template <typename T> __device__ __forceinline__ void mma_16816(float (&c)[4], const unsigned (&a)[4], unsigned b0, unsigned b1);

template <> __device__ __forceinline__ void mma_16816<__half>(float (&c)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

template <> __device__ __forceinline__ void mma_16816<__nv_bfloat16>(float (&c)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ void ldmatrix_x4(unsigned (&r)[4], const void* smem) {
    const unsigned addr = (unsigned)__cvta_generic_to_shared(smem);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(addr) : "memory");
}

__device__ __forceinline__ void ldmatrix_x4_trans(unsigned (&r)[4], const void* smem) {
    const unsigned addr = (unsigned)__cvta_generic_to_shared(smem);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(addr) : "memory");
}

// 16 bytes global → shared, asynchronously; valid == false writes 16 zero bytes and reads nothing.
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
    const unsigned addr = (unsigned)__cvta_generic_to_shared(smem);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" :: "r"(addr), "l"(gmem), "r"(valid ? 16 : 0) : "memory");
}

__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }

// waits until at most N of this thread's committed groups are still in flight
template <int N> __device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;" :: "n"(N) : "memory"); }

#endif

// two floats → one register of two 16-bit values (lo in the low half), rounded to nearest even; and back
template <typename T>
__device__ __forceinline__ unsigned pack16(float lo, float hi, T t) { return (unsigned)bits16(lo, t) | (unsigned)bits16(hi, t) << 16; }
template <typename T>
__device__ __forceinline__ float lo16(unsigned r, T t) { return from16((unsigned short)(r & 0xffffu), t); }
template <typename T>
__device__ __forceinline__ float hi16(unsigned r, T t) { return from16((unsigned short)(r >> 16), t); }
