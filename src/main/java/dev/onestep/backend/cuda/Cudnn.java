package dev.onestep.backend.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.onestep.backend.cuda.Cublas.call;
import static dev.onestep.backend.cuda.Cublas.fn;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A hand-written java.lang.foreign binding of cuDNN 9's legacy convolution API (libcudnn.so.9, the shim that
 * forwards to libcudnn_cnn/ops/graph): NHWC tensor and KRSC filter descriptors, heuristic algorithm choice
 * (cudnnGetConvolutionForwardAlgorithm_v7), workspace query, cudnnConvolutionForward and the fused
 * cudnnConvolutionBiasActivationForward (y = act(alpha1·conv(x, w) + alpha2·z + bias), used with the identity
 * activation for conv + bias (+ residual)). cuDNN 9 still ships and supports these (deprecated in favour of the graph
 * API, not removed: the cudnn_cnn library reference of 9.x lists them). Every status is checked; failures throw
 * {@link CudaException} with cudnnGetErrorString's text.
 *
 * <p>The fused call, as documented (cuDNN API reference, cudnnActivationMode_t and
 * cudnnConvolutionBiasActivationForward): CUDNN_ACTIVATION_IDENTITY is only supported with
 * CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, so a fused plan takes the first usable PRECOMP entry of the
 * heuristics and fails when there is none; the bias is a [1, C, 1, 1] tensor of the output's data type for the
 * FLOAT / PSEUDO_HALF / PSEUDO_BFLOAT16 configurations (fp32 compute); alpha1/alpha2 are floats; z has y's
 * descriptor and may be y itself (with alpha2 = 0, as PyTorch's conv-bias-relu does).
 *
 * <p>Never run on a GPU yet. The signatures ({@link #SIGNATURES}), enum values and the layout of
 * cudnnConvolutionFwdAlgoPerf_t ({@link #PERF}, from cudnn_cnn.h) are checked in CI against the JavaCPP presets'
 * declarations generated from the cuDNN 9.19 headers (CudaBindingAbiTest).
 */
final class Cudnn implements AutoCloseable {
    // cudnnTensorFormat_t, cudnnDataType_t, cudnnConvolutionMode_t, cudnnMathType_t
    static final int FORMAT_NHWC = 1;
    static final int DATA_FLOAT = 0, DATA_HALF = 2, DATA_BFLOAT16 = 9;
    static final int CROSS_CORRELATION = 1;
    static final int MATH_DEFAULT = 0, MATH_TENSOR_OP = 1, MATH_TENSOR_OP_ALLOW_CONVERSION = 2, MATH_FMA = 3;
    // cudnnConvolutionFwdAlgo_t, cudnnActivationMode_t, cudnnNanPropagation_t
    static final int ALGO_IMPLICIT_PRECOMP_GEMM = 1;
    static final int ACTIVATION_IDENTITY = 5;
    static final int NOT_PROPAGATE_NAN = 0;

    /**
     * Every function bound, by exported symbol, with its C signature (int/enum → JAVA_INT, size_t → JAVA_LONG, any
     * pointer or descriptor → ADDRESS). CudaBindingAbiTest checks each against the JavaCPP presets' declarations.
     */
    static final Map<String, FunctionDescriptor> SIGNATURES = Cublas.signatures(
            "cudnnGetVersion", FunctionDescriptor.of(JAVA_LONG),
            "cudnnGetErrorString", FunctionDescriptor.of(ADDRESS, JAVA_INT),
            "cudnnCreate", FunctionDescriptor.of(JAVA_INT, ADDRESS),
            "cudnnDestroy", FunctionDescriptor.of(JAVA_INT, ADDRESS),
            "cudnnSetStream", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS),
            "cudnnCreateTensorDescriptor", FunctionDescriptor.of(JAVA_INT, ADDRESS),
            // (desc, format, dataType, n, c, h, w)
            "cudnnSetTensor4dDescriptor", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT),
            "cudnnDestroyTensorDescriptor", FunctionDescriptor.of(JAVA_INT, ADDRESS),
            "cudnnCreateFilterDescriptor", FunctionDescriptor.of(JAVA_INT, ADDRESS),
            // (desc, dataType, format, k, c, h, w) — note: dataType before format, unlike the tensor setter
            "cudnnSetFilter4dDescriptor", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT),
            "cudnnDestroyFilterDescriptor", FunctionDescriptor.of(JAVA_INT, ADDRESS),
            "cudnnCreateConvolutionDescriptor", FunctionDescriptor.of(JAVA_INT, ADDRESS),
            // (desc, pad_h, pad_w, u, v, dilation_h, dilation_w, mode, computeType)
            "cudnnSetConvolution2dDescriptor", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                    JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT),
            "cudnnSetConvolutionMathType", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT),
            "cudnnDestroyConvolutionDescriptor", FunctionDescriptor.of(JAVA_INT, ADDRESS),
            // (conv, xDesc, wDesc, int* n, int* c, int* h, int* w)
            "cudnnGetConvolution2dForwardOutputDim", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS),
            // (handle, xDesc, wDesc, convDesc, yDesc, requested, int* returned, perf*)
            "cudnnGetConvolutionForwardAlgorithm_v7", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                    JAVA_INT, ADDRESS, ADDRESS),
            // (handle, xDesc, wDesc, convDesc, yDesc, algo, size_t*)
            "cudnnGetConvolutionForwardWorkspaceSize", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                    JAVA_INT, ADDRESS),
            // (handle, alpha*, xDesc, x, wDesc, w, convDesc, algo, workspace, wsBytes, beta*, yDesc, y)
            "cudnnConvolutionForward", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                    JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS),
            // the fused call and its activation descriptor: optional (a library without them disables fused plans)
            "cudnnCreateActivationDescriptor", FunctionDescriptor.of(JAVA_INT, ADDRESS),
            // (desc, mode, reluNanOpt, double coef)
            "cudnnSetActivationDescriptor", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_DOUBLE),
            "cudnnDestroyActivationDescriptor", FunctionDescriptor.of(JAVA_INT, ADDRESS),
            // (handle, alpha1*, xDesc, x, wDesc, w, convDesc, algo, workspace, wsBytes, alpha2*, zDesc, z, biasDesc, bias,
            //  activationDesc, yDesc, y)
            "cudnnConvolutionBiasActivationForward", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                    ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));

    /** cudnnConvolutionFwdAlgoPerf_t: algo, status, time, (pad), memory, determinism, mathType, reserved[3]. */
    static final StructLayout PERF = MemoryLayout.structLayout(JAVA_INT.withName("algo"), JAVA_INT.withName("status"),
            JAVA_FLOAT.withName("time"), MemoryLayout.paddingLayout(4), JAVA_LONG.withName("memory"), JAVA_INT.withName("determinism"),
            JAVA_INT.withName("mathType"), MemoryLayout.sequenceLayout(3, JAVA_INT).withName("reserved"), MemoryLayout.paddingLayout(4));

    private final NativeLibraries.Loaded lib;
    private final NativeLibraries.Loaded nvrtc;   // null when not found: only runtime-compiled engines need it
    private final MethodHandle create, destroy, setStream, getVersion, errorString;
    private final MethodHandle createTensor, setTensor4d, destroyTensor, createFilter, setFilter4d, destroyFilter;
    private final MethodHandle createConv, setConv2d, setConvMath, destroyConv, outputDim, getAlgoV7, workspaceSize, forward;
    // the fused conv-bias-activation call and its activation descriptor; null when the library lacks a symbol
    private final MethodHandle createActivation, setActivation, destroyActivation, biasActivationForward;
    private final String fusedMissing;            // why fused plans are unavailable, or null
    private MemorySegment identity;               // CUDNN_ACTIVATION_IDENTITY descriptor, created on the first fused plan
    private final Arena arena = Arena.ofShared();
    private final MemorySegment handle, one, zero;
    private final long version;

    Cudnn(long stream) {
        nvrtc = NativeLibraries.preload(NativeLibraries.NVRTC);
        lib = NativeLibraries.load(NativeLibraries.CUDNN);
        SymbolLookup l = lib.lookup();
        getVersion = fn(l, SIGNATURES, "cudnnGetVersion");
        errorString = fn(l, SIGNATURES, "cudnnGetErrorString");
        create = fn(l, SIGNATURES, "cudnnCreate");
        destroy = fn(l, SIGNATURES, "cudnnDestroy");
        setStream = fn(l, SIGNATURES, "cudnnSetStream");
        createTensor = fn(l, SIGNATURES, "cudnnCreateTensorDescriptor");
        setTensor4d = fn(l, SIGNATURES, "cudnnSetTensor4dDescriptor");
        destroyTensor = fn(l, SIGNATURES, "cudnnDestroyTensorDescriptor");
        createFilter = fn(l, SIGNATURES, "cudnnCreateFilterDescriptor");
        setFilter4d = fn(l, SIGNATURES, "cudnnSetFilter4dDescriptor");
        destroyFilter = fn(l, SIGNATURES, "cudnnDestroyFilterDescriptor");
        createConv = fn(l, SIGNATURES, "cudnnCreateConvolutionDescriptor");
        setConv2d = fn(l, SIGNATURES, "cudnnSetConvolution2dDescriptor");
        setConvMath = fn(l, SIGNATURES, "cudnnSetConvolutionMathType");
        destroyConv = fn(l, SIGNATURES, "cudnnDestroyConvolutionDescriptor");
        outputDim = fn(l, SIGNATURES, "cudnnGetConvolution2dForwardOutputDim");
        getAlgoV7 = fn(l, SIGNATURES, "cudnnGetConvolutionForwardAlgorithm_v7");
        workspaceSize = fn(l, SIGNATURES, "cudnnGetConvolutionForwardWorkspaceSize");
        forward = fn(l, SIGNATURES, "cudnnConvolutionForward");
        MethodHandle[] fused = new MethodHandle[4];
        String missing = null;
        try {
            fused[0] = fn(l, SIGNATURES, "cudnnCreateActivationDescriptor");
            fused[1] = fn(l, SIGNATURES, "cudnnSetActivationDescriptor");
            fused[2] = fn(l, SIGNATURES, "cudnnDestroyActivationDescriptor");
            fused[3] = fn(l, SIGNATURES, "cudnnConvolutionBiasActivationForward");
        } catch (IllegalStateException e) {
            missing = e.getMessage();
        }
        createActivation = fused[0];
        setActivation = fused[1];
        destroyActivation = fused[2];
        biasActivationForward = fused[3];
        fusedMissing = missing;
        version = versionNow();
        one = arena.allocate(JAVA_FLOAT);
        one.set(JAVA_FLOAT, 0, 1f);
        zero = arena.allocate(JAVA_FLOAT);
        zero.set(JAVA_FLOAT, 0, 0f);
        MemorySegment out = arena.allocate(ADDRESS);
        check("cudnnCreate", call(() -> (int) create.invoke(out)));
        handle = out.get(ADDRESS, 0);
        check("cudnnSetStream", call(() -> (int) setStream.invoke(handle, MemorySegment.ofAddress(stream))));
    }

    private long versionNow() {
        try {
            return (long) getVersion.invoke();
        } catch (Throwable t) {
            return 0;
        }
    }

    /** "9.10.2 (libcudnn.so.9 from /path)"; cuDNN 9 encodes major·10000 + minor·100 + patch. */
    String describe() {
        return (version / 10000) + "." + (version / 100 % 100) + "." + (version % 100) + " (" + lib.location() + "; NVRTC "
                + (nvrtc == null ? "not found" : nvrtc.location()) + ")";
    }

    /** The identity activation descriptor, created once; throws when this library has no fused call. */
    private synchronized MemorySegment identityActivation() {
        if (fusedMissing != null) throw new CudaException("cudnnConvolutionBiasActivationForward unavailable: " + fusedMissing, -1);
        if (identity == null) {
            MemorySegment d = newDesc(createActivation, "cudnnCreateActivationDescriptor");
            try {
                // coef is only read by clipped ReLU / ELU / swish
                check("cudnnSetActivationDescriptor(IDENTITY)", call(() -> (int) setActivation.invoke(d, ACTIVATION_IDENTITY, NOT_PROPAGATE_NAN, 0.0)));
            } catch (RuntimeException | Error e) {
                call(() -> (int) destroyActivation.invoke(d));
                throw e;
            }
            identity = d;
        }
        return identity;
    }

    /**
     * A prepared NHWC convolution for one input shape: descriptors, algorithm, workspace size. A {@code fused} plan is
     * for cudnnConvolutionBiasActivationForward with the identity activation: IMPLICIT_PRECOMP_GEMM only, plus a
     * [1, O, 1, 1] bias descriptor in the data type; it throws {@link CudaException} when cuDNN offers no such algorithm.
     */
    final class Plan implements AutoCloseable {
        final MemorySegment xDesc, wDesc, convDesc, yDesc, biasDesc; // biasDesc null unless fused
        final boolean fused;
        final int algo, mathType, outN, outH, outW, outC;
        final long workspaceBytes;

        Plan(int dataType, int n, int h, int w, int c, int o, int kh, int kw, int padH, int padW, int stride, boolean allowTf32, boolean fused) {
            this.fused = fused;
            xDesc = newDesc(createTensor, "cudnnCreateTensorDescriptor");
            wDesc = newDesc(createFilter, "cudnnCreateFilterDescriptor");
            convDesc = newDesc(createConv, "cudnnCreateConvolutionDescriptor");
            yDesc = newDesc(createTensor, "cudnnCreateTensorDescriptor");
            biasDesc = fused ? newDesc(createTensor, "cudnnCreateTensorDescriptor") : null;
            String shape = "x[" + n + "," + h + "," + w + "," + c + "] w[" + o + "," + kh + "," + kw + "," + c + "] pad " + padH + "," + padW
                    + " stride " + stride + (fused ? " fused bias" : "");
            try {
                if (fused) {
                    identityActivation();
                    check("cudnnSetTensor4dDescriptor(bias [1," + o + ",1,1])", call(() -> (int) setTensor4d.invoke(biasDesc, FORMAT_NHWC, dataType, 1, o, 1, 1)));
                }
                check("cudnnSetTensor4dDescriptor(x " + shape + ")", call(() -> (int) setTensor4d.invoke(xDesc, FORMAT_NHWC, dataType, n, c, h, w)));
                check("cudnnSetFilter4dDescriptor(" + shape + ")", call(() -> (int) setFilter4d.invoke(wDesc, dataType, FORMAT_NHWC, o, c, kh, kw)));
                // fp32 accumulation for every storage type (PSEUDO_HALF / PSEUDO_BFLOAT16 configurations for 16-bit data)
                check("cudnnSetConvolution2dDescriptor(" + shape + ")",
                        call(() -> (int) setConv2d.invoke(convDesc, padH, padW, stride, stride, 1, 1, CROSS_CORRELATION, DATA_FLOAT)));
                // fp32: FMA math only, so Ampere+/Hopper do not silently switch to TF32 (10-bit mantissa) unless asked
                int wantMath = dataType == DATA_FLOAT && !allowTf32 ? MATH_FMA : MATH_TENSOR_OP;
                check("cudnnSetConvolutionMathType", call(() -> (int) setConvMath.invoke(convDesc, wantMath)));
                try (Arena a = Arena.ofConfined()) {
                    MemorySegment dims = a.allocate(JAVA_INT, 4);
                    check("cudnnGetConvolution2dForwardOutputDim(" + shape + ")", call(() -> (int) outputDim.invoke(convDesc, xDesc, wDesc,
                            dims.asSlice(0, 4), dims.asSlice(4, 4), dims.asSlice(8, 4), dims.asSlice(12, 4))));
                    outN = dims.getAtIndex(JAVA_INT, 0);
                    outC = dims.getAtIndex(JAVA_INT, 1);
                    outH = dims.getAtIndex(JAVA_INT, 2);
                    outW = dims.getAtIndex(JAVA_INT, 3);
                    check("cudnnSetTensor4dDescriptor(y)", call(() -> (int) setTensor4d.invoke(yDesc, FORMAT_NHWC, dataType, outN, outC, outH, outW)));

                    int requested = 16;
                    MemorySegment perf = a.allocate(PERF, requested);
                    MemorySegment returned = a.allocate(JAVA_INT);
                    check("cudnnGetConvolutionForwardAlgorithm_v7(" + shape + ")",
                            call(() -> (int) getAlgoV7.invoke(handle, xDesc, wDesc, convDesc, yDesc, requested, returned, perf)));
                    int count = returned.get(JAVA_INT, 0);
                    int chosen = -1, chosenMath = wantMath;
                    List<String> seen = new ArrayList<>();
                    for (int i = 0; i < count && chosen < 0; i++) {
                        MemorySegment p = perf.asSlice(i * PERF.byteSize(), PERF.byteSize());
                        int algoI = p.get(JAVA_INT, 0), status = p.get(JAVA_INT, 4), math = p.get(JAVA_INT, 28);
                        seen.add("algo " + algoI + " status " + status + " math " + math);
                        if (status != 0) continue;
                        // identity activation: IMPLICIT_PRECOMP_GEMM only (cudnnActivationMode_t docs)
                        if (fused && algoI != ALGO_IMPLICIT_PRECOMP_GEMM) continue;
                        // the heuristics may offer tensor-op variants even for FMA descriptors; keep fp32 exact
                        if (wantMath == MATH_FMA && math != MATH_FMA && math != MATH_DEFAULT) continue;
                        chosen = algoI;
                        // Review fix: for fp32 without TF32 the descriptor must stay at FMA_MATH. The heuristics can
                        // report CUDNN_DEFAULT_MATH for an entry, and DEFAULT_MATH *permits* TF32 tensor cores on
                        // Ampere and newer (cudnnMathType_t docs), which would silently break fp32 parity with the CPU.
                        chosenMath = wantMath == MATH_FMA ? MATH_FMA : math;
                    }
                    if (chosen < 0) throw new CudaException("cudnnGetConvolutionForwardAlgorithm_v7(" + shape + "): no usable "
                            + (fused ? "IMPLICIT_PRECOMP_GEMM " : "") + "algorithm among " + seen, -1);
                    algo = chosen;
                    mathType = chosenMath;
                    int m = chosenMath;
                    check("cudnnSetConvolutionMathType", call(() -> (int) setConvMath.invoke(convDesc, m)));
                    MemorySegment ws = a.allocate(JAVA_LONG);
                    check("cudnnGetConvolutionForwardWorkspaceSize(" + shape + ", algo " + algo + ")",
                            call(() -> (int) workspaceSize.invoke(handle, xDesc, wDesc, convDesc, yDesc, algo, ws)));
                    workspaceBytes = ws.get(JAVA_LONG, 0);
                }
            } catch (RuntimeException | Error e) {
                close(); // a shape cuDNN rejects must not leak its four descriptors (the caller may fall back to im2col)
                throw e;
            }
        }

        void forward(long x, long w, long y, long workspace) {
            check("cudnnConvolutionForward(algo " + algo + ")", call(() -> (int) forward.invoke(handle, one, xDesc, MemorySegment.ofAddress(x), wDesc,
                    MemorySegment.ofAddress(w), convDesc, algo, MemorySegment.ofAddress(workspace), workspaceBytes, zero, yDesc, MemorySegment.ofAddress(y))));
        }

        /**
         * y = conv(x, w) + bias (+ z when {@code addZ}) in one cuDNN call (identity activation): bias [O] in the data
         * type; z has y's shape and dtype and does not alias y; without addZ, y itself is passed as z with alpha2 = 0.
         */
        void forwardBias(long x, long w, long bias, long z, boolean addZ, long y, long workspace) {
            if (!fused) throw new IllegalStateException("not a fused plan");
            MemorySegment act = identityActivation();
            long zz = addZ ? z : y;
            check("cudnnConvolutionBiasActivationForward(algo " + algo + ")", call(() -> (int) biasActivationForward.invoke(handle, one, xDesc,
                    MemorySegment.ofAddress(x), wDesc, MemorySegment.ofAddress(w), convDesc, algo, MemorySegment.ofAddress(workspace), workspaceBytes,
                    addZ ? one : zero, yDesc, MemorySegment.ofAddress(zz), biasDesc, MemorySegment.ofAddress(bias), act, yDesc, MemorySegment.ofAddress(y))));
        }

        @Override
        public void close() {
            if (biasDesc != null) call(() -> (int) destroyTensor.invoke(biasDesc));
            call(() -> (int) destroyTensor.invoke(xDesc));
            call(() -> (int) destroyTensor.invoke(yDesc));
            call(() -> (int) destroyFilter.invoke(wDesc));
            call(() -> (int) destroyConv.invoke(convDesc));
        }
    }

    private MemorySegment newDesc(MethodHandle creator, String name) {
        MemorySegment out = arena.allocate(ADDRESS);
        check(name, call(() -> (int) creator.invoke(out)));
        return out.get(ADDRESS, 0);
    }

    void check(String call, int status) {
        if (status == 0) return;
        String text;
        try {
            MemorySegment s = (MemorySegment) errorString.invoke(status);
            text = s.reinterpret(Long.MAX_VALUE).getString(0);
        } catch (Throwable t) {
            text = "status " + status;
        }
        throw new CudaException(call + " failed: " + text + " (cudnnStatus_t " + status + ")", status);
    }

    @Override
    public void close() {
        try {
            if (identity != null) call(() -> (int) destroyActivation.invoke(identity));
            check("cudnnDestroy", call(() -> (int) destroy.invoke(handle)));
        } finally {
            arena.close();
        }
    }
}
