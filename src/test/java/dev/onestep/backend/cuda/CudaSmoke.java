package dev.onestep.backend.cuda;

import dev.onestep.backend.Conv2dWeights;
import dev.onestep.backend.Padding;
import dev.onestep.backend.cpu.ReferenceBackend;
import dev.onestep.tensor.DType;
import dev.onestep.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

/**
 * The first thing to run on a GPU machine ({@code tools/gpu-check.sh run smoke}): each layer of the CUDA backend
 * in the order it depends on the previous one, one line per step, stopping at the first failure with the full
 * exception and exit code 10 + step, so a broken layer is named without reading a JUnit report.
 *
 * <ol>
 *   <li>driver: JCuda loads, cuInit, device attributes, primary context, stream
 *   <li>memory: cuMemAlloc, H→D, D→D at an offset (DevicePtr "null + byteOffset"), memset, D→H round trip
 *   <li>kernel: module load (cubin, then the PTX JIT path), KernelArgs as kernelParams, add_f32
 *   <li>cublas: library found, handle on our stream, cublasGemmEx row-major linear vs the host
 *   <li>cudnn: library found, NHWC/KRSC plan, algorithm, forward vs the host (fp32, FMA math)
 *   <li>backend: CudaBackend describe, attention d = dv = 512 (> 48 KB shared memory), conv2d fp16 with C = 3
 *       through the AUTO path, group norm, fp16 tensor-core attention (d = 512 and 5 heads of 64, causal), download
 * </ol>
 */
public final class CudaSmoke {
    private CudaSmoke() {}

    private static int step;
    private static final int STEPS = 6;

    private static void begin(String name, String what) {
        step++;
        System.out.printf("== smoke %d/%d %s: %s%n", step, STEPS, name, what);
        System.out.flush();
    }

    private static void ok(String detail) {
        System.out.println("   OK " + detail);
        System.out.flush();
    }

    private static void fail(Throwable t) {
        System.out.println("   FAIL at step " + step + ": " + t);
        t.printStackTrace(System.out);
        System.out.flush();
        System.exit(10 + step);
    }

    private static void check(boolean cond, String message) {
        if (!cond) throw new AssertionError(message);
    }

    /**
     * cudnnConvolutionBiasActivationForward (identity, IMPLICIT_PRECOMP_GEMM) on the smoke conv: y = conv + bias + z with
     * small integers, so exact. A refusal is reported, not failed: the backend then runs conv + bias kernel for the shape.
     */
    private static String fusedConvBiasAdd(Cudnn cudnn, CudaDriver drv, Arena arena, Random r, long dx, long dw, int N, int H, int W,
                                           int C, int O, int K, float[] conv) {
        float[] bias = new float[O], z = new float[conv.length], want = new float[conv.length];
        for (int o = 0; o < O; o++) bias[o] = r.nextInt(5) - 2;
        for (int i = 0; i < z.length; i++) z[i] = r.nextInt(5) - 2;
        for (int i = 0; i < want.length; i++) want[i] = conv[i] + bias[i % O] + z[i];
        Cudnn.Plan plan;
        try {
            plan = cudnn.new Plan(Cudnn.DATA_FLOAT, N, H, W, C, O, K, K, 1, 1, 1, false, true);
        } catch (CudaException e) {
            System.out.println("   fused conv-bias-add: no plan (the backend falls back to conv + bias kernel): " + e.getMessage());
            return "fused conv-bias-add: no plan";
        }
        try (plan) {
            long db = drv.malloc(4L * O), dz = drv.malloc(4L * z.length), dy = drv.malloc(4L * want.length);
            long ws = plan.workspaceBytes > 0 ? drv.malloc(plan.workspaceBytes) : 0;
            try {
                drv.copyToDevice(db, arena.allocateFrom(ValueLayout.JAVA_FLOAT, bias), 4L * O);
                drv.copyToDevice(dz, arena.allocateFrom(ValueLayout.JAVA_FLOAT, z), 4L * z.length);
                try {
                    plan.forwardBias(dx, dw, db, dz, true, dy, ws);
                } catch (CudaException e) {
                    System.out.println("   fused conv-bias-add: call refused (the backend falls back to conv + bias kernel): " + e.getMessage());
                    return "fused conv-bias-add: call refused";
                }
                MemorySegment ys = arena.allocate(4L * want.length, 16);
                drv.copyToHost(ys, dy, 4L * want.length);
                float d = maxAbsDiff(ys.toArray(ValueLayout.JAVA_FLOAT), want);
                check(d == 0, "fused conv + bias + z differs from the host by up to " + d);
                System.out.println("   fused conv-bias-add: algo " + plan.algo + ", exact");
                return "fused conv-bias-add exact";
            } finally {
                for (long p : new long[] {db, dz, dy}) drv.free(p);
                if (ws != 0) drv.free(ws);
            }
        }
    }

    private static float maxAbsDiff(float[] a, float[] b) {
        check(a.length == b.length, "length " + a.length + " vs " + b.length);
        float m = 0;
        for (int i = 0; i < a.length; i++) {
            float d = Math.abs(a[i] - b[i]);
            if (!(d <= m)) m = Float.isNaN(d) ? Float.NaN : d;
            if (Float.isNaN(m)) return m;
        }
        return m;
    }

    public static void main(String[] args) {
        System.out.println("java " + Runtime.version() + "; LD_LIBRARY_PATH=" + System.getenv("LD_LIBRARY_PATH")
                + "; ONESTEP_CUDA_LIB_PATH=" + System.getenv("ONESTEP_CUDA_LIB_PATH"));
        int ordinal = Integer.getInteger("onestep.cuda.device", 0);
        CudaDriver drv = null;
        Random r = new Random(7);
        try (Arena arena = Arena.ofConfined()) {
            // 1 ------------------------------------------------------------------ driver
            begin("driver", "JCuda + libcuda, cuInit, device " + ordinal + ", primary context, stream");
            try {
                String why = CudaBackend.unavailableReason();
                check(why == null, "CUDA unavailable: " + why);
                drv = new CudaDriver(ordinal, s -> System.out.println("   log: " + s));
                long[] mi = drv.memoryInfo();
                ok(String.format("%s, cc %d.%d, %d SMs, %.1f GiB (%.1f free), driver %d, max opt-in smem %d B, stream 0x%x",
                        drv.deviceName, drv.ccMajor, drv.ccMinor, drv.multiprocessors, drv.totalMemory / (double) (1L << 30),
                        mi[0] / (double) (1L << 30), drv.driverVersion, drv.maxSharedOptin, drv.stream.handle()));
            } catch (Throwable t) {
                fail(t);
            }

            // 2 ------------------------------------------------------------------ memory
            begin("memory", "cuMemAlloc, H->D, D->D at +256 B, memset, D->H");
            long a = 0, b = 0;
            int n = 1000;
            try {
                long bytes = 4L * n + 256;
                a = drv.malloc(bytes);
                b = drv.malloc(bytes);
                check(a != 0 && b != 0, "cuMemAlloc returned 0");
                check(new CudaDriver.DevicePtr(a).address() == a, "DevicePtr(address).address() != address");
                MemorySegment host = arena.allocate(4L * n, 16);
                for (int i = 0; i < n; i++) host.setAtIndex(ValueLayout.JAVA_FLOAT, i, i * 0.5f - 3f);
                drv.copyToDevice(a, host, 4L * n);
                drv.zero(b, bytes);
                drv.copyDeviceToDevice(b + 256, a, 4L * n);    // exercises nativePointer 0 + byteOffset = address
                MemorySegment back = arena.allocate(4L * n, 16);
                drv.copyToHost(back, b + 256, 4L * n);
                for (int i = 0; i < n; i++)
                    check(back.getAtIndex(ValueLayout.JAVA_FLOAT, i) == host.getAtIndex(ValueLayout.JAVA_FLOAT, i),
                            "round trip differs at " + i + ": " + back.getAtIndex(ValueLayout.JAVA_FLOAT, i));
                MemorySegment head = arena.allocate(256, 16);
                drv.copyToHost(head, b, 256);
                for (int i = 0; i < 256; i++) check(head.get(ValueLayout.JAVA_BYTE, i) == 0, "memset left byte " + i + " non-zero");
                ok("a=0x" + Long.toHexString(a) + " b=0x" + Long.toHexString(b) + ", " + n + " floats round-tripped");
            } catch (Throwable t) {
                fail(t);
            }

            // 3 ------------------------------------------------------------------ kernel
            begin("kernel", "module " + CudaDriver.moduleResource("elementwise", drv.ccMajor, drv.ccMinor, false)
                    + " + add_f32 via KernelArgs; then the PTX JIT path");
            try (KernelArgs ka = new KernelArgs()) {
                CudaDriver.Kernel add = drv.kernel("elementwise", "add_f32");
                drv.launch(add, 4, 1, 256, 0, ka.reset().ptr(a).ptr(a).ptr(b).i64(n));
                drv.synchronize();
                MemorySegment y = arena.allocate(4L * n, 16);
                drv.copyToHost(y, b, 4L * n);
                for (int i = 0; i < n; i++) {
                    float want = 2 * (i * 0.5f - 3f), got = y.getAtIndex(ValueLayout.JAVA_FLOAT, i);
                    check(got == want, "add_f32[" + i + "] = " + got + ", want " + want);
                }
                for (String m : new String[] {"convert", "elementwise", "activations", "norms", "attention", "conv"}) drv.checkPtxLoads(m);
                ok("add_f32 correct on " + n + " elements; every module's PTX JIT-compiles");
            } catch (Throwable t) {
                fail(t);
            }
            try {
                drv.free(a);
                drv.free(b);
            } catch (Throwable t) {
                fail(t);
            }

            // 4 ------------------------------------------------------------------ cublas
            begin("cublas", "library search, cublasCreate/SetStream, cublasGemmEx y[3,4] = x[3,5]·W[4,5]ᵀ fp32");
            try (Cublas cublas = new Cublas(drv.stream.handle())) {
                int rows = 3, in = 5, out = 4;
                float[] x = new float[rows * in], w = new float[out * in], want = new float[rows * out];
                for (int i = 0; i < x.length; i++) x[i] = r.nextInt(7) - 3;
                for (int i = 0; i < w.length; i++) w[i] = r.nextInt(7) - 3;
                for (int i = 0; i < rows; i++)
                    for (int o = 0; o < out; o++) {
                        float s = 0;
                        for (int k = 0; k < in; k++) s += x[i * in + k] * w[o * in + k];
                        want[i * out + o] = s;
                    }
                long dx = drv.malloc(4L * x.length), dw = drv.malloc(4L * w.length), dy = drv.malloc(4L * want.length);
                drv.copyToDevice(dx, arena.allocateFrom(ValueLayout.JAVA_FLOAT, x), 4L * x.length);
                drv.copyToDevice(dw, arena.allocateFrom(ValueLayout.JAVA_FLOAT, w), 4L * w.length);
                cublas.linearRowMajor(dy, dx, dw, rows, in, out, Cublas.CUDA_R_32F, Cublas.COMPUTE_32F);
                MemorySegment ys = arena.allocate(4L * want.length, 16);
                drv.copyToHost(ys, dy, 4L * want.length);
                float[] got = ys.toArray(ValueLayout.JAVA_FLOAT);
                check(maxAbsDiff(got, want) == 0, "GEMM differs: got " + java.util.Arrays.toString(got) + " want " + java.util.Arrays.toString(want)
                        + " (a transposed result means the row-major trick or lda/ldb/ldc is wrong)");
                drv.free(dx);
                drv.free(dw);
                drv.free(dy);
                ok("cuBLAS " + cublas.describe() + ": exact");
            } catch (Throwable t) {
                fail(t);
            }

            // 5 ------------------------------------------------------------------ cudnn
            begin("cudnn", "library search, cudnnCreate/SetStream, NHWC 3x3 conv x[1,5,6,3] -> [1,5,6,2], pad 1, fp32; fused conv-bias-add");
            try (Cudnn cudnn = new Cudnn(drv.stream.handle())) {
                int N = 1, H = 5, W = 6, C = 3, O = 2, K = 3;
                float[] x = new float[N * H * W * C], w = new float[O * K * K * C]; // w as [O, kh, kw, C] (KRSC)
                for (int i = 0; i < x.length; i++) x[i] = r.nextInt(5) - 2;
                for (int i = 0; i < w.length; i++) w[i] = r.nextInt(5) - 2;
                float[] want = new float[N * H * W * O];
                for (int oy = 0; oy < H; oy++)
                    for (int ox = 0; ox < W; ox++)
                        for (int o = 0; o < O; o++) {
                            float s = 0;
                            for (int ky = 0; ky < K; ky++)
                                for (int kx = 0; kx < K; kx++) {
                                    int iy = oy - 1 + ky, ix = ox - 1 + kx;
                                    if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                    for (int c = 0; c < C; c++) s += x[(iy * W + ix) * C + c] * w[((o * K + ky) * K + kx) * C + c];
                                }
                            want[(oy * W + ox) * O + o] = s;
                        }
                try (Cudnn.Plan plan = cudnn.new Plan(Cudnn.DATA_FLOAT, N, H, W, C, O, K, K, 1, 1, 1, false, false)) {
                    System.out.println("   plan: algo " + plan.algo + ", math " + plan.mathType + ", workspace " + plan.workspaceBytes
                            + " B, out " + plan.outN + "x" + plan.outH + "x" + plan.outW + "x" + plan.outC);
                    check(plan.outH == H && plan.outW == W && plan.outC == O, "output dims");
                    long dx = drv.malloc(4L * x.length), dw = drv.malloc(4L * w.length), dy = drv.malloc(4L * want.length);
                    long ws = plan.workspaceBytes > 0 ? drv.malloc(plan.workspaceBytes) : 0;
                    drv.copyToDevice(dx, arena.allocateFrom(ValueLayout.JAVA_FLOAT, x), 4L * x.length);
                    drv.copyToDevice(dw, arena.allocateFrom(ValueLayout.JAVA_FLOAT, w), 4L * w.length);
                    plan.forward(dx, dw, dy, ws);
                    MemorySegment ys = arena.allocate(4L * want.length, 16);
                    drv.copyToHost(ys, dy, 4L * want.length);
                    float d = maxAbsDiff(ys.toArray(ValueLayout.JAVA_FLOAT), want);
                    check(d == 0, "conv differs from the host by up to " + d);
                    drv.free(dy);
                    if (ws != 0) drv.free(ws);
                    String fused = fusedConvBiasAdd(cudnn, drv, arena, r, dx, dw, N, H, W, C, O, K, want);
                    drv.free(dx);
                    drv.free(dw);
                    ok("cuDNN " + cudnn.describe() + ": exact; " + fused);
                }
            } catch (Throwable t) {
                fail(t);
            }
        } finally {
            if (drv != null) drv.close();
        }

        // 6 ---------------------------------------------------------------------- backend
        begin("backend", "CudaBackend: describe, attention d=dv=512, conv2d fp16 C=3 (AUTO), groupNorm");
        ReferenceBackend ref = new ReferenceBackend();
        try (CudaBackend f32 = new CudaBackend(DType.F32, CudaBackend.ConvPath.AUTO, s -> System.out.println("   log: " + s))) {
            System.out.println("   " + f32.describe());
            Tensor q = CudaTestSupport.uniform(r, -1, 1, 1, 37, 512), k = CudaTestSupport.uniform(r, -1, 1, 1, 37, 512),
                    v = CudaTestSupport.uniform(r, -1, 1, 1, 37, 512);
            float scale = (float) (1 / Math.sqrt(512));
            try (Tensor dq = f32.upload(q); Tensor dk = f32.upload(k); Tensor dv = f32.upload(v);
                 Tensor o = f32.attention(dq, dk, dv, 1, scale, false); Tensor got = f32.download(o);
                 Tensor want = ref.attention(q, k, v, 1, scale, false)) {
                float d = maxAbsDiff(got.toFloatArray(), want.toFloatArray());
                check(d < 1e-4f, "attention d=512 max |diff| " + d);
                System.out.println("   attention d=dv=512 (smem " + CudaBackend.attentionSmem(512, 512, 8, 4) + " B): max |diff| " + d);
            }
            Tensor gx = CudaTestSupport.uniform(r, -2, 2, 2, 7, 9, 64);
            Tensor gamma = CudaTestSupport.uniform(r, 0.5f, 1.5f, 64), beta = CudaTestSupport.uniform(r, -0.5f, 0.5f, 64);
            try (Tensor dg = f32.prepareParameter(gamma); Tensor db = f32.prepareParameter(beta); Tensor dx = f32.upload(gx);
                 Tensor y = f32.groupNorm(dx, 32, dg, db, 1e-6f, true); Tensor got = f32.download(y);
                 Tensor want = ref.groupNorm(gx, 32, gamma, beta, 1e-6f, true)) {
                float d = maxAbsDiff(got.toFloatArray(), want.toFloatArray());
                check(d < 1e-4f, "groupNorm max |diff| " + d);
                System.out.println("   groupNorm [2,7,9,64] G=32 + SiLU: max |diff| " + d);
            }
        } catch (Throwable t) {
            fail(t);
        }
        try (CudaBackend f16 = new CudaBackend(DType.F16, CudaBackend.ConvPath.AUTO, s -> System.out.println("   log: " + s))) {
            Tensor x = CudaTestSupport.representable(CudaTestSupport.uniform(r, -1, 1, 1, 9, 11, 3), DType.F16);
            Tensor w = CudaTestSupport.representable(CudaTestSupport.uniform(r, -0.5f, 0.5f, 8, 3, 3, 3), DType.F16);
            Tensor bias = CudaTestSupport.uniform(r, -0.1f, 0.1f, 8);
            try (Conv2dWeights dw = f16.prepareConv2d(w, bias); Conv2dWeights rw = ref.prepareConv2d(w, bias); Tensor dx = f16.upload(x);
                 Tensor y = f16.conv2d(dx, dw, 1, Padding.same(1)); Tensor got = f16.download(y);
                 Tensor want = ref.conv2d(x, rw, 1, Padding.same(1))) {
                float d = maxAbsDiff(got.toFloatArray(), want.toFloatArray());
                check(d < 2e-2f, "conv2d fp16 C=3 max |diff| " + d);
                System.out.println("   conv2d fp16 [1,9,11,3] 3x3 -> 8 (" + (f16.hasCudnn() ? "cuDNN or its im2col fallback" : "im2col") + "): max |diff| " + d);
            }
            try (Conv2dWeights dw = f16.prepareConv2d(w, bias); Conv2dWeights rw = ref.prepareConv2d(w, bias); Tensor dx = f16.upload(x);
                 Tensor y = f16.conv2d(dx, dw, 2, Padding.BOTTOM_RIGHT); Tensor got = f16.download(y);
                 Tensor want = ref.conv2d(x, rw, 2, Padding.BOTTOM_RIGHT)) {
                float d = maxAbsDiff(got.toFloatArray(), want.toFloatArray());
                check(d < 2e-2f, "conv2d fp16 stride 2 BOTTOM_RIGHT max |diff| " + d);
                System.out.println("   conv2d fp16 stride 2, pad (0,1,0,1): max |diff| " + d);
            }
            // tensor-core attention (attention_tc512: 160,528 B of shared memory, 512 threads; attention_tc64: 5 heads of 64)
            for (int[] c : new int[][] {{1, 130, 1, 512}, {2, 100, 5, 64}}) {
                int n = c[0], l = c[1], h = c[2], hd = c[3];
                Tensor q = CudaTestSupport.representable(CudaTestSupport.uniform(r, -1, 1, n, l, h * hd), DType.F16),
                        k = CudaTestSupport.representable(CudaTestSupport.uniform(r, -1, 1, n, l, h * hd), DType.F16),
                        v = CudaTestSupport.representable(CudaTestSupport.uniform(r, -1, 1, n, l, h * hd), DType.F16);
                float scale = (float) (1 / Math.sqrt(hd));
                try (Tensor dq = f16.upload(q); Tensor dk = f16.upload(k); Tensor dv = f16.upload(v);
                     Tensor o = f16.attention(dq, dk, dv, h, scale, true); Tensor got = f16.download(o);
                     Tensor want = ref.attention(q, k, v, h, scale, true)) {
                    float d = maxAbsDiff(got.toFloatArray(), want.toFloatArray());
                    check(d < 2e-3f, "tensor-core attention fp16 [" + n + "," + l + "," + h + "x" + hd + "] causal max |diff| " + d);
                    System.out.println("   attention fp16 tensor cores [" + n + "," + l + "," + h + "x" + hd + "] causal (smem "
                            + CudaBackend.attentionTcSmem(hd, hd) + " B): max |diff| " + d);
                }
            }
            f16.synchronize();
            ok("pool: " + f16.pool().driverAllocations() + " cuMemAlloc calls, peak " + f16.peakMemoryBytes() + " B");
        } catch (Throwable t) {
            fail(t);
        }
        System.out.println("SMOKE PASSED");
        System.exit(0);
    }
}
