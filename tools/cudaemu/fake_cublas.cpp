// A fake libcublas.so.13: cublasCreate_v2 / Destroy_v2 / SetStream_v2 / GetVersion_v2 and cublasGemmEx, on the
// CPU. Prototypes follow cublas_api.h (CUDA 13; not part of this machine's toolkit, so written out here from the
// documented signatures that the Java FFM binding, backend/cuda/Cublas.java, also follows). GemmEx implements the
// documented column-major semantics in full (both transposes, leading dimensions, alpha/beta) and checks what
// cuBLAS checks (dimensions, leading dimensions, type combinations); device pointers must lie inside live
// allocations of the fake driver. fp32 accumulation in fp32 FMA order k = 0..K-1; FAST_TF32 rounds the inputs
// to TF32 (10-bit mantissa) first, as tensor cores do.
#include "storage.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

extern "C" int onestep_emu_check_range(const void* p, size_t bytes);  // fake_cuda.cpp

namespace {

enum { SUCCESS = 0, NOT_INITIALIZED = 1, INVALID_VALUE = 7, NOT_SUPPORTED = 15 };
enum { R_32F = 0, R_16F = 2, R_16BF = 14 };
enum { COMPUTE_32F = 68, COMPUTE_32F_FAST_TF32 = 77 };
enum { OP_N = 0, OP_T = 1 };

struct Handle {
    int magic = 0xB1A5;
    void* stream = nullptr;
};

emu::Storage storage(int type) { return type == R_32F ? emu::Storage::F32 : type == R_16F ? emu::Storage::F16 : emu::Storage::BF16; }
float load(const void* p, int type, size_t i) { return emu::load(p, storage(type), i); }
void store(void* p, int type, size_t i, float v) { emu::store(p, storage(type), i, v); }
size_t type_size(int type) { return emu::storage_size(storage(type)); }

float tf32(float v) {  // round to nearest even at 10 mantissa bits
    uint32_t b;
    std::memcpy(&b, &v, 4);
    if ((b & 0x7F800000u) == 0x7F800000u) return v;
    b += 0x0FFFu + ((b >> 13) & 1u);
    b &= 0xFFFFE000u;
    std::memcpy(&v, &b, 4);
    return v;
}

int fail(const char* why) {
    std::fprintf(stderr, "cudaemu cublasGemmEx: %s\n", why);
    return INVALID_VALUE;
}

}  // namespace

extern "C" {

int cublasCreate_v2(void** handle) {
    if (!handle) return INVALID_VALUE;
    *handle = new Handle();
    return SUCCESS;
}

int cublasDestroy_v2(void* handle) {
    Handle* h = (Handle*)handle;
    if (!h || h->magic != 0xB1A5) return NOT_INITIALIZED;
    h->magic = 0;
    delete h;
    return SUCCESS;
}

int cublasSetStream_v2(void* handle, void* stream) {
    Handle* h = (Handle*)handle;
    if (!h || h->magic != 0xB1A5) return NOT_INITIALIZED;
    h->stream = stream;
    return SUCCESS;
}

int cublasGetVersion_v2(void* handle, int* version) {
    Handle* h = (Handle*)handle;
    if (!h || h->magic != 0xB1A5) return NOT_INITIALIZED;
    *version = 130100;  // 13.1.0 as major·10000 + minor·100 + patch
    return SUCCESS;
}

// C [m, n] = alpha · op(A) [m, k] · op(B) [k, n] + beta · C, column-major.
int cublasGemmEx(void* handle, int transa, int transb, int m, int n, int k, const void* alpha, const void* A, int Atype, int lda,
                 const void* B, int Btype, int ldb, const void* beta, void* C, int Ctype, int ldc, int computeType, int algo) {
    Handle* h = (Handle*)handle;
    if (!h || h->magic != 0xB1A5) return NOT_INITIALIZED;
    if (m < 0 || n < 0 || k < 0) return fail("negative dimension");
    if ((transa != OP_N && transa != OP_T) || (transb != OP_N && transb != OP_T)) return fail("transpose other than N/T");
    int rowsA = transa == OP_N ? m : k, rowsB = transb == OP_N ? k : n;
    if (lda < (rowsA > 1 ? rowsA : 1)) return fail("lda below the rows of A");
    if (ldb < (rowsB > 1 ? rowsB : 1)) return fail("ldb below the rows of B");
    if (ldc < (m > 1 ? m : 1)) return fail("ldc below m");
    if (Atype != Btype || Atype != Ctype) return NOT_SUPPORTED;
    if (Atype != R_32F && Atype != R_16F && Atype != R_16BF) return NOT_SUPPORTED;
    if (computeType != COMPUTE_32F && !(computeType == COMPUTE_32F_FAST_TF32 && Atype == R_32F)) return NOT_SUPPORTED;
    if (algo != -1 && !(algo >= 0 && algo <= 23) && !(algo >= 99 && algo <= 115)) return fail("algo");
    if (!alpha || !beta) return fail("null alpha/beta");
    if (m == 0 || n == 0) return SUCCESS;
    size_t es = type_size(Atype);
    int colsA = transa == OP_N ? k : m, colsB = transb == OP_N ? n : k;
    if (k > 0 && !onestep_emu_check_range(A, ((size_t)(colsA - 1) * lda + rowsA) * es)) return fail("A outside every device allocation");
    if (k > 0 && !onestep_emu_check_range(B, ((size_t)(colsB - 1) * ldb + rowsB) * es)) return fail("B outside every device allocation");
    if (!onestep_emu_check_range(C, ((size_t)(n - 1) * ldc + m) * es)) return fail("C outside every device allocation");
    float a = *(const float*)alpha, b = *(const float*)beta;  // CUBLAS_POINTER_MODE_HOST, fp32 scalars for COMPUTE_32F
    bool round = computeType == COMPUTE_32F_FAST_TF32;
#pragma omp parallel for schedule(static)
    for (int j = 0; j < n; j++) {
        std::vector<float> bcol(k);
        for (int p = 0; p < k; p++) {
            float v = transb == OP_N ? load(B, Btype, (size_t)j * ldb + p) : load(B, Btype, (size_t)p * ldb + j);
            bcol[p] = round ? tf32(v) : v;
        }
        for (int i = 0; i < m; i++) {
            float acc = 0.0f;
            for (int p = 0; p < k; p++) {
                float av = transa == OP_N ? load(A, Atype, (size_t)p * lda + i) : load(A, Atype, (size_t)i * lda + p);
                acc = std::fma(round ? tf32(av) : av, bcol[p], acc);
            }
            size_t ci = (size_t)j * ldc + i;
            float out = a * acc;
            if (b != 0.0f) out += b * load(C, Ctype, ci);  // beta = 0: C is not read (may hold NaN)
            store(C, Ctype, ci, out);
        }
    }
    return SUCCESS;
}

}  // extern "C"
