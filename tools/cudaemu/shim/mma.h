// CPU emulation of the nvcuda::wmma subset OneStep's kernels use (kernels/attention.cu), for the CUDA emulator
// (tools/cudaemu): the kernels are compiled with g++ and every CUDA thread runs as a fiber, so a warp-collective
// WMMA call is made by each of the 32 lanes in turn.
//
// Emulation: every lane's fragment holds the WHOLE 16×16 tile (num_elements = 256, x[] in row-major tile order:
// matrix_a [m][k], matrix_b [k][n], accumulator [m][n]). load_matrix_sync reads the whole tile, store_matrix_sync
// writes it (each lane writes the same values: idempotent repeats), mma_sync computes the whole product in fp32.
// This is a different element ↦ lane mapping than any GPU's, which is the point: a kernel is only correct here
// and on the GPU if it treats fragments as opaque (load/store/mma/fill, and element-wise ops applied uniformly
// to every x[i]). Nothing here synchronises; the kernel's own __syncwarp()s order lanes, as on the GPU.
//
// Supported: shape 16×16×16; matrix_a/matrix_b of __half or __nv_bfloat16 (row_major or col_major);
// accumulator of float (mem_row_major / mem_col_major). Products are exact in fp32 (as tensor cores: the
// 16-bit operands' product fits a float) and summed in fp32 in k order.
#pragma once
#include <cuda_fp16.h>
#include <cuda_bf16.h>

namespace nvcuda {
namespace wmma {

struct row_major {};
struct col_major {};
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
enum layout_t { mem_row_major, mem_col_major };

namespace detail {
inline float to_float(float v) { return v; }
inline float to_float(__half v) { return __half2float(v); }
inline float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }
template <typename T> T from_float(float v);
template <> inline float from_float<float>(float v) { return v; }
template <> inline __half from_float<__half>(float v) { return __float2half_rn(v); }
template <> inline __nv_bfloat16 from_float<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

template <typename T>
struct tile {
    enum { num_elements = 256 };
    typedef T element_type;
    T x[256];
};
} // namespace detail

template <typename Use, int m, int n, int k, typename T, typename Layout = void>
class fragment;

template <typename T, typename Layout>
class fragment<matrix_a, 16, 16, 16, T, Layout> : public detail::tile<T> {};
template <typename T, typename Layout>
class fragment<matrix_b, 16, 16, 16, T, Layout> : public detail::tile<T> {};
template <>
class fragment<accumulator, 16, 16, 16, float, void> : public detail::tile<float> {};

template <typename Use, typename T, typename Layout>
inline void fill_fragment(fragment<Use, 16, 16, 16, T, Layout>& f, const T& v) {
    for (int i = 0; i < 256; i++) f.x[i] = v;
}
// fill_fragment(acc, 0.0f) and fill_fragment(a, 0) style calls with a value of another type
template <typename Use, typename T, typename Layout, typename V>
inline void fill_fragment(fragment<Use, 16, 16, 16, T, Layout>& f, const V& v) {
    const T t = detail::from_float<T>((float)v);
    for (int i = 0; i < 256; i++) f.x[i] = t;
}

// The hardware's preconditions (CUDA C++ Programming Guide, "Warp Matrix Functions"): mptr 256-bit (32-byte)
// aligned, ldm a multiple of 16 bytes (8 for 16-bit elements, 4 for float). The emulator does not need them, so it
// checks them: a kernel that breaks them works here and faults or reads garbage on a GPU.
namespace detail {
inline void require_layout(const void* p, unsigned ldm, size_t elem) {
    if ((reinterpret_cast<uintptr_t>(p) & 31u) != 0) emu::fail("wmma load/store: pointer not 32-byte aligned");
    if ((ldm * elem) % 16 != 0) emu::fail("wmma load/store: ldm not a multiple of 16 bytes");
}
}  // namespace detail

// tile element (r, c) ↦ memory: row-major p[r·ldm + c], column-major p[c·ldm + r]
template <typename T>
inline void load_matrix_sync(fragment<matrix_a, 16, 16, 16, T, row_major>& f, const T* p, unsigned ldm) {
    detail::require_layout(p, ldm, sizeof(*p));
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 16; c++) f.x[r * 16 + c] = p[(size_t)r * ldm + c];
}
template <typename T>
inline void load_matrix_sync(fragment<matrix_a, 16, 16, 16, T, col_major>& f, const T* p, unsigned ldm) {
    detail::require_layout(p, ldm, sizeof(*p));
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 16; c++) f.x[r * 16 + c] = p[(size_t)c * ldm + r];
}
template <typename T>
inline void load_matrix_sync(fragment<matrix_b, 16, 16, 16, T, row_major>& f, const T* p, unsigned ldm) {
    detail::require_layout(p, ldm, sizeof(*p));
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 16; c++) f.x[r * 16 + c] = p[(size_t)r * ldm + c];
}
template <typename T>
inline void load_matrix_sync(fragment<matrix_b, 16, 16, 16, T, col_major>& f, const T* p, unsigned ldm) {
    detail::require_layout(p, ldm, sizeof(*p));
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 16; c++) f.x[r * 16 + c] = p[(size_t)c * ldm + r];
}
inline void load_matrix_sync(fragment<accumulator, 16, 16, 16, float>& f, const float* p, unsigned ldm, layout_t layout) {
    detail::require_layout(p, ldm, sizeof(*p));
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 16; c++) f.x[r * 16 + c] = layout == mem_row_major ? p[(size_t)r * ldm + c] : p[(size_t)c * ldm + r];
}
inline void store_matrix_sync(float* p, const fragment<accumulator, 16, 16, 16, float>& f, unsigned ldm, layout_t layout) {
    detail::require_layout(p, ldm, sizeof(*p));
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 16; c++) (layout == mem_row_major ? p[(size_t)r * ldm + c] : p[(size_t)c * ldm + r]) = f.x[r * 16 + c];
}

// d = a·b + c (d may alias c). Row by row with a 16-float temporary: fibers' stacks are small, and a kernel's own
// fragments already take 1 KB (float) or 512 B (16-bit) of stack each.
template <typename T, typename LA, typename LB>
inline void mma_sync(fragment<accumulator, 16, 16, 16, float>& d, const fragment<matrix_a, 16, 16, 16, T, LA>& a,
                     const fragment<matrix_b, 16, 16, 16, T, LB>& b, const fragment<accumulator, 16, 16, 16, float>& c) {
    for (int r = 0; r < 16; r++) {
        float row[16];
        for (int col = 0; col < 16; col++) row[col] = c.x[r * 16 + col];
        for (int kk = 0; kk < 16; kk++) {
            const float av = detail::to_float(a.x[r * 16 + kk]);
            for (int col = 0; col < 16; col++) row[col] += av * detail::to_float(b.x[kk * 16 + col]);
        }
        for (int col = 0; col < 16; col++) d.x[r * 16 + col] = row[col];
    }
}

} // namespace wmma
} // namespace nvcuda
