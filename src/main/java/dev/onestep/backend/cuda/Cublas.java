package dev.onestep.backend.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * A hand-written java.lang.foreign binding of the few cuBLAS functions the backend uses (cublasGemmEx for every
 * linear layer and 1×1 / im2col convolution). Opens libcublas.so.13 or .12 ({@link NativeLibraries}); every call's
 * status is checked and a failure throws {@link CudaException} naming the call and the status
 * ({@link #statusName}). Device pointers are plain {@code long} addresses (from the driver binding); the stream is
 * the driver's CUstream handle, which cuBLAS takes as cudaStream_t (the same object).
 *
 * <p>Never run on a GPU yet: the signatures follow cublas_api.h of CUDA 12/13 (cublasGemmEx has kept its
 * signature since CUDA 11; the _v2 handle functions are the exported names); they, the enum values and the status
 * names are checked in CI against the JavaCPP presets' declarations generated from the CUDA 13.1 headers
 * (CudaBindingAbiTest).
 */
final class Cublas implements AutoCloseable {
    // cublasOperation_t
    static final int OP_N = 0, OP_T = 1;
    // cudaDataType_t (library_types.h)
    static final int CUDA_R_32F = 0, CUDA_R_16F = 2, CUDA_R_16BF = 14;
    // cublasComputeType_t
    static final int COMPUTE_32F = 68, COMPUTE_32F_FAST_TF32 = 77;
    // cublasGemmAlgo_t
    static final int GEMM_DEFAULT = -1;

    /**
     * Every function bound, by exported symbol, with its C signature (int/enum → JAVA_INT, size_t → JAVA_LONG, any
     * pointer or handle → ADDRESS). CudaBindingAbiTest checks each against the JavaCPP presets' declarations.
     */
    static final Map<String, FunctionDescriptor> SIGNATURES = signatures(
            "cublasCreate_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS),
            "cublasDestroy_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS),
            "cublasSetStream_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS),
            "cublasGetVersion_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS),
            // (handle, transa, transb, m, n, k, alpha*, A, Atype, lda, B, Btype, ldb, beta*, C, Ctype, ldc, computeType, algo)
            "cublasGemmEx", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                    ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));

    private static final Linker LINKER = Linker.nativeLinker();

    private final NativeLibraries.Loaded lib;
    private final MethodHandle create, destroy, setStream, getVersion, gemmEx;
    private final MemorySegment handle;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment one, zero;       // host fp32 scalars for alpha/beta
    private final int version;

    Cublas(long stream) {
        lib = NativeLibraries.load(NativeLibraries.CUBLAS);
        SymbolLookup l = lib.lookup();
        create = fn(l, SIGNATURES, "cublasCreate_v2");
        destroy = fn(l, SIGNATURES, "cublasDestroy_v2");
        setStream = fn(l, SIGNATURES, "cublasSetStream_v2");
        getVersion = fn(l, SIGNATURES, "cublasGetVersion_v2");
        gemmEx = fn(l, SIGNATURES, "cublasGemmEx");
        one = arena.allocate(ValueLayout.JAVA_FLOAT);
        one.set(ValueLayout.JAVA_FLOAT, 0, 1f);
        zero = arena.allocate(ValueLayout.JAVA_FLOAT);
        zero.set(ValueLayout.JAVA_FLOAT, 0, 0f);
        MemorySegment out = arena.allocate(ADDRESS);
        check("cublasCreate_v2", call(() -> (int) create.invoke(out)));
        handle = out.get(ADDRESS, 0);
        check("cublasSetStream_v2", call(() -> (int) setStream.invoke(handle, MemorySegment.ofAddress(stream))));
        MemorySegment v = arena.allocate(JAVA_INT);
        check("cublasGetVersion_v2", call(() -> (int) getVersion.invoke(handle, v)));
        version = v.get(JAVA_INT, 0);
    }

    /** "13.1.0 (libcublas.so.13 from /path)" */
    String describe() {
        return (version / 10000) + "." + (version / 100 % 100) + "." + (version % 100) + " (" + lib.location() + ")";
    }

    /**
     * Row-major y [rows, out] = x [rows, in] · Wᵀ with W [out, in], all row-major, fp32 accumulation.
     *
     * <p>cuBLAS is column-major: a row-major [r, c] matrix is a column-major [c, r] one. So compute the
     * column-major C [out, rows] = op(A)·B with A = W seen as column-major [in, out] (lda = in) transposed
     * (OP_T → [out, in]) and B = x seen as column-major [in, rows] (ldb = in): C = W·xᵀ = (x·Wᵀ)ᵀ, which read
     * back row-major is exactly y [rows, out] (ldc = out).
     */
    void linearRowMajor(long y, long x, long w, int rows, int in, int out, int dataType, int computeType) {
        check("cublasGemmEx(m=" + out + ", n=" + rows + ", k=" + in + ")", call(() -> (int) gemmEx.invoke(handle, OP_T, OP_N, out, rows, in,
                one, MemorySegment.ofAddress(w), dataType, in, MemorySegment.ofAddress(x), dataType, in,
                zero, MemorySegment.ofAddress(y), dataType, out, computeType, GEMM_DEFAULT)));
    }

    @Override
    public void close() {
        try {
            check("cublasDestroy_v2", call(() -> (int) destroy.invoke(handle)));
        } finally {
            arena.close();
        }
    }

    /** cublasStatus_t names (cublas_api.h). */
    static String statusName(int status) {
        return switch (status) {
            case 0 -> "CUBLAS_STATUS_SUCCESS";
            case 1 -> "CUBLAS_STATUS_NOT_INITIALIZED";
            case 3 -> "CUBLAS_STATUS_ALLOC_FAILED";
            case 7 -> "CUBLAS_STATUS_INVALID_VALUE";
            case 8 -> "CUBLAS_STATUS_ARCH_MISMATCH";
            case 11 -> "CUBLAS_STATUS_MAPPING_ERROR";
            case 13 -> "CUBLAS_STATUS_EXECUTION_FAILED";
            case 14 -> "CUBLAS_STATUS_INTERNAL_ERROR";
            case 15 -> "CUBLAS_STATUS_NOT_SUPPORTED";
            case 16 -> "CUBLAS_STATUS_LICENSE_ERROR";
            default -> "CUBLAS_STATUS_UNKNOWN(" + status + ")";
        };
    }

    static void check(String call, int status) {
        if (status != 0) throw new CudaException(call + " failed: " + statusName(status), status);
    }

    interface NativeCall { int run() throws Throwable; }

    /** Runs a downcall, turning the MethodHandle's checked Throwable into an unchecked one. */
    static int call(NativeCall c) {
        try {
            return c.run();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** {name, descriptor, name, descriptor, ...} → an insertion-ordered map. */
    static Map<String, FunctionDescriptor> signatures(Object... pairs) {
        Map<String, FunctionDescriptor> m = new LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) m.put((String) pairs[i], (FunctionDescriptor) pairs[i + 1]);
        return Collections.unmodifiableMap(m);
    }

    /** A downcall handle for {@code name} with its descriptor from {@code signatures}. */
    static MethodHandle fn(SymbolLookup lookup, Map<String, FunctionDescriptor> signatures, String name) {
        FunctionDescriptor fd = signatures.get(name);
        if (fd == null) throw new IllegalArgumentException("no signature declared for " + name);
        MemorySegment sym = lookup.find(name).orElseThrow(() -> new IllegalStateException("symbol " + name + " not found in the loaded library"));
        return LINKER.downcallHandle(sym, fd);
    }
}
