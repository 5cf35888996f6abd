package dev.onestep.backend.cpu;

import dev.onestep.backend.Backend;
import dev.onestep.backend.Conv2dWeights;
import dev.onestep.backend.LinearWeights;
import dev.onestep.backend.Padding;
import dev.onestep.tensor.Tensor;

import java.util.Random;

/**
 * Throughput of the CPU backend's heavy ops at real SD2 shapes, in GFLOP/s (not a test; no assertions).
 *
 * <pre>
 * mvn -q -B test-compile
 * java --add-modules jdk.incubator.vector -Djdk.incubator.vector.VECTOR_ACCESS_OOB_CHECK=0 \
 *      -cp target/classes:target/test-classes dev.onestep.backend.cpu.CpuBench [quick]
 * </pre>
 */
public final class CpuBench {
    private CpuBench() {}

    private static final boolean VECTOR = CpuBackend.VECTOR_DEFAULT;

    public static void main(String[] args) {
        boolean quick = args.length > 0 && args[0].equals("quick");
        boolean vector = CpuBackend.VECTOR_DEFAULT;
        CpuBackend b = new CpuBackend(vector);
        System.out.println(b.describe() + "; KC=" + Gemm.KC + " MC=" + Gemm.MC + " MR=" + Gemm.MR + " NR=" + Gemm.NR);
        Random r = new Random(1);
        int reps = quick ? 3 : 6;

        double alloc = time(reps, () -> Tensor.allocate(dev.onestep.tensor.DType.F32, 1, 4096, 2560).close());
        System.out.printf("Tensor.allocate of 42 MB (4096x2560 floats): %.2f ms (counted in every op below)%n", alloc * 1e3);
        // GEMM as the implicit GEMM of a 3×3 conv on 64×64×128: M = 4096, K = 9·128, N = 128
        linear(b, r, 4096, 1152, 128, reps);
        linear(b, r, 4096, 320, 320, reps);   // UNet attention projections at 64×64 latents
        linear(b, r, 4096, 320, 2560, reps);  // GEGLU up-projection
        linear(b, r, 77, 1024, 1024, reps);   // CLIP
        conv(b, r, 64, 64, 128, 128, 3, 1, Padding.same(1), reps);
        conv(b, r, 96, 96, 320, 320, 3, 1, Padding.same(1), quick ? 2 : 3);
        conv(b, r, 64, 64, 128, 128, 3, 2, Padding.BOTTOM_RIGHT, reps);
        conv(b, r, 64, 64, 320, 320, 1, 1, Padding.NONE, reps);
        attention(b, r, 4096, 4096, 5, 64, quick ? 2 : 3);
        attention(b, r, 4096, 2, 5, 64, reps);
        memoryBound(b, r, 96, 96, 320, reps);
    }

    /** Norms and element-wise ops, reported as GB/s of tensor traffic (one read + one write). */
    private static void memoryBound(Backend b, Random r, int h, int w, int c, int reps) {
        Tensor x = OpTestSupport.gaussian(r, 1, 0, 1, h, w, c);
        Tensor g = OpTestSupport.uniform(r, 0.5f, 1.5f, c), be = OpTestSupport.uniform(r, -0.5f, 0.5f, c);
        double bytes = 2.0 * x.numel() * 4;
        Tensor y = Tensor.allocate(dev.onestep.tensor.DType.F32, x.shape());
        float[] gf = g.toFloatArray(), bf = be.toFloatArray();
        long n = x.numel();
        double gn = time(reps, () -> Norms.groupNorm(x.data(), y.data(), 1, (long) h * w, c, 32, gf, bf, 1e-5f, true, VECTOR));
        double ln = time(reps, () -> Norms.layerNorm(x.data(), y.data(), (long) h * w, c, gf, bf, 1e-5f, VECTOR));
        double si = time(reps, () -> Elementwise.unary(Elementwise.Unary.SILU, x.data(), y.data(), n, VECTOR));
        double ge = time(reps, () -> Elementwise.unary(Elementwise.Unary.GELU, x.data(), y.data(), n, VECTOR));
        double ad = time(reps, () -> Elementwise.axpby(1f, x.data(), 1f, x.data(), y.data(), n, VECTOR));
        double op = time(reps, () -> b.silu(x).close());
        System.out.printf("%dx%dx%d kernels: groupNorm+silu %.2f ms (%.1f GB/s), layerNorm %.2f ms, silu %.2f ms (%.1f GB/s), gelu %.2f ms, add %.2f ms"
                        + " | silu op incl. output allocation %.2f ms%n",
                h, w, c, gn * 1e3, bytes / gn / 1e9, ln * 1e3, si * 1e3, bytes / si / 1e9, ge * 1e3, ad * 1e3, op * 1e3);
    }

    private static double time(int reps, Runnable op) {
        op.run(); // warm-up (JIT)
        op.run();
        double best = Double.MAX_VALUE;
        for (int i = 0; i < reps; i++) {
            long t0 = System.nanoTime();
            op.run();
            best = Math.min(best, (System.nanoTime() - t0) / 1e9);
        }
        return best;
    }

    private static void linear(Backend b, Random r, int m, int k, int n, int reps) {
        Tensor x = OpTestSupport.uniform(r, -1, 1, 1, m, k);
        LinearWeights w = b.prepareLinear(OpTestSupport.uniform(r, -0.1f, 0.1f, n, k), OpTestSupport.uniform(r, -1, 1, n));
        double op = time(reps, () -> b.linear(x, w).close());
        Tensor y = Tensor.allocate(dev.onestep.tensor.DType.F32, m, n);
        Gemm.Packed p = ((CpuBackend.LinearW) w).packed;
        double s = time(reps, () -> Gemm.run(m, p, Gemm.matrix(x.data(), k), Gemm.uniformKBlocks(k), y.data(), VECTOR));
        System.out.printf("linear  M=%5d K=%5d N=%5d : kernel %8.2f ms %6.1f GFLOP/s | op incl. output allocation %8.2f ms%n",
                m, k, n, s * 1e3, 2.0 * m * k * n / s / 1e9, op * 1e3);
    }

    private static void conv(Backend b, Random r, int h, int wd, int ci, int co, int k, int stride, Padding pad, int reps) {
        Tensor x = OpTestSupport.uniform(r, -1, 1, 1, h, wd, ci);
        Conv2dWeights w = b.prepareConv2d(OpTestSupport.uniform(r, -0.05f, 0.05f, co, ci, k, k), OpTestSupport.uniform(r, -1, 1, co));
        int oh = pad.outSize(h, k, stride, true), ow = pad.outSize(wd, k, stride, false);
        double op = time(reps, () -> b.conv2d(x, w, stride, pad).close());
        Tensor y = Tensor.allocate(dev.onestep.tensor.DType.F32, 1, oh, ow, co);
        double s = time(reps, () -> ConvGemm.run(x.data(), 1, h, wd, ci, k, k, stride, pad, ((CpuBackend.ConvW) w).packed, y.data(), oh, ow, VECTOR));
        double flops = 2.0 * oh * ow * co * (double) ci * k * k;
        System.out.printf("conv    %dx%dx%d -> %d k%d s%d : kernel %8.2f ms %6.1f GFLOP/s | op incl. output allocation %8.2f ms%n",
                h, wd, ci, co, k, stride, s * 1e3, flops / s / 1e9, op * 1e3);
    }

    private static void attention(Backend b, Random r, int lq, int lk, int heads, int d, int reps) {
        Tensor q = OpTestSupport.gaussian(r, 1, 0, 1, lq, heads * d), k = OpTestSupport.gaussian(r, 1, 0, 1, lk, heads * d),
                v = OpTestSupport.gaussian(r, 1, 0, 1, lk, heads * d);
        double s = time(reps, () -> b.attention(q, k, v, heads, (float) (1 / Math.sqrt(d)), false).close());
        double flops = 4.0 * lq * lk * heads * d;
        System.out.printf("attn    Lq=%d Lk=%d heads=%d d=%d : %8.2f ms  %7.1f GFLOP/s%n", lq, lk, heads, d, s * 1e3, flops / s / 1e9);
    }
}
