package dev.onestep.backend.cuda;

import dev.onestep.backend.Conv2dWeights;
import dev.onestep.backend.LinearWeights;
import dev.onestep.backend.Padding;
import dev.onestep.io.config.UNetConfig;
import dev.onestep.io.config.VaeConfig;
import dev.onestep.model.ActivationHook;
import dev.onestep.model.WeightResolver;
import dev.onestep.model.unet.UNet2DConditionModel;
import dev.onestep.model.vae.AutoencoderKL;
import dev.onestep.tensor.DType;
import dev.onestep.tensor.Tensor;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/**
 * Throughput of the CUDA backend's heavy ops at SD2 768² shapes (latent 96², 9,216 tokens), per compute dtype,
 * in TFLOP/s or GB/s; then, given the SD2 configs, one full UNet forward and VAE encode/decode at 768² with
 * synthetic weights, timed warm, with the pool's peak. Not a test; no assertions. Never run yet.
 *
 * <pre>
 * mvn -q -B test-compile
 * java --enable-native-access=ALL-UNNAMED -cp "target/classes:target/test-classes:$(cat target/cp.txt)" \
 *      dev.onestep.backend.cuda.CudaBench [quick] [sd2-config-dir]
 * </pre>
 * (tools/gpu-check.sh writes target/cp.txt with mvn dependency:build-classpath.)
 */
public final class CudaBench {
    private CudaBench() {}

    public static void main(String[] args) throws Exception {
        boolean quick = args.length > 0 && args[0].equals("quick");
        Path config = args.length > 1 ? Path.of(args[1]) : null;
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            try (CudaBackend b = new CudaBackend(dt)) {
                System.out.println(b.describe());
                Random r = new Random(1);
                int reps = quick ? 3 : 10;
                linear(b, r, 9216, 320, 320, reps);      // attention projections, first level
                linear(b, r, 9216, 320, 2560, reps);     // GEGLU up-projection
                linear(b, r, 77, 1024, 1024, reps);      // CLIP
                conv(b, r, 96, 96, 320, 320, 3, 1, Padding.same(1), reps);
                conv(b, r, 48, 48, 640, 640, 3, 1, Padding.same(1), reps);
                conv(b, r, 384, 384, 256, 256, 3, 1, Padding.same(1), quick ? 2 : 5); // VAE decoder, 3rd level
                conv(b, r, 768, 768, 128, 128, 3, 2, Padding.BOTTOM_RIGHT, quick ? 2 : 5);
                attention(b, r, 9216, 9216, 5, 64, quick ? 2 : 5);
                attention(b, r, 9216, 77, 5, 64, reps);
                attention(b, r, 9216, 9216, 1, 512, quick ? 1 : 3); // VAE mid-block at 768²
                groupNorm(b, r, 96, 96, 320, reps);
                System.out.printf("  pool: peak %.1f MB in use, %d driver allocations, %d reuses%n", b.peakMemoryBytes() / 1e6,
                        b.pool().driverAllocations(), b.pool().reuses());
                if (config != null && Files.isDirectory(config)) networks(b, config, dt, quick ? 2 : 5);
            }
        }
    }

    private static double time(CudaBackend b, int reps, Runnable f) {
        f.run(); // warm: kernels loaded, cuDNN plans made, pool filled
        b.synchronize();
        long t0 = System.nanoTime();
        for (int i = 0; i < reps; i++) f.run();
        b.synchronize();
        return (System.nanoTime() - t0) / 1e9 / reps;
    }

    private static Tensor dev(CudaBackend b, Tensor host) {
        try (host) {
            return b.upload(host);
        }
    }

    private static void linear(CudaBackend b, Random r, int m, int k, int n, int reps) {
        Tensor x = dev(b, CudaTestSupport.uniform(r, -1, 1, 1, m, k));
        LinearWeights w = b.prepareLinear(CudaTestSupport.uniform(r, -0.05f, 0.05f, n, k), CudaTestSupport.uniform(r, -1, 1, n));
        double s = time(b, reps, () -> b.linear(x, w).close());
        System.out.printf("  linear %dx%dx%d: %.3f ms, %.1f TFLOP/s%n", m, k, n, s * 1e3, 2.0 * m * k * n / s / 1e12);
        x.close();
        w.close();
    }

    private static void conv(CudaBackend b, Random r, int h, int w, int ci, int co, int k, int stride, Padding pad, int reps) {
        Tensor x = dev(b, CudaTestSupport.uniform(r, -1, 1, 1, h, w, ci));
        Conv2dWeights cw = b.prepareConv2d(CudaTestSupport.uniform(r, -0.05f, 0.05f, co, ci, k, k), CudaTestSupport.uniform(r, -1, 1, co));
        int oh = pad.outSize(h, k, stride, true), ow = pad.outSize(w, k, stride, false);
        double s = time(b, reps, () -> b.conv2d(x, cw, stride, pad).close());
        System.out.printf("  conv %dx%dx%d -> %d k%d s%d: %.3f ms, %.1f TFLOP/s%n", h, w, ci, co, k, stride, s * 1e3,
                2.0 * oh * ow * co * ci * k * k / s / 1e12);
        x.close();
        cw.close();
    }

    private static void attention(CudaBackend b, Random r, int lq, int lk, int heads, int d, int reps) {
        Tensor q = dev(b, CudaTestSupport.gaussian(r, 1, 0, 1, lq, heads * d)), k = dev(b, CudaTestSupport.gaussian(r, 1, 0, 1, lk, heads * d));
        Tensor v = dev(b, CudaTestSupport.gaussian(r, 1, 0, 1, lk, heads * d));
        double s = time(b, reps, () -> b.attention(q, k, v, heads, (float) (1 / Math.sqrt(d)), false).close());
        System.out.printf("  attention Lq=%d Lk=%d heads=%d d=%d: %.3f ms, %.1f TFLOP/s%n", lq, lk, heads, d, s * 1e3,
                4.0 * lq * lk * heads * d / s / 1e12);
        q.close();
        k.close();
        v.close();
    }

    private static void groupNorm(CudaBackend b, Random r, int h, int w, int c, int reps) {
        Tensor x = dev(b, CudaTestSupport.gaussian(r, 1, 0, 1, h, w, c));
        Tensor g = b.prepareParameter(CudaTestSupport.uniform(r, 0.5f, 1.5f, c)), be = b.prepareParameter(CudaTestSupport.uniform(r, -0.5f, 0.5f, c));
        double s = time(b, reps, () -> b.groupNorm(x, 32, g, be, 1e-5f, true).close());
        double bytes = 3.0 * x.numel() * b.computeType().byteSize(); // read twice, write once
        System.out.printf("  groupNorm+silu %dx%dx%d: %.3f ms, %.0f GB/s%n", h, w, c, s * 1e3, bytes / s / 1e9);
        x.close();
        g.close();
        be.close();
    }

    private static void networks(CudaBackend b, Path config, DType dt, int reps) {
        UNetConfig uc = UNetConfig.load(config.resolve("unet/config.json"));
        VaeConfig vc = VaeConfig.load(config.resolve("vae/config.json"));
        try (UNet2DConditionModel unet = UNet2DConditionModel.build(uc, WeightResolver.synthetic(b, 7, DType.F16));
             AutoencoderKL vae = AutoencoderKL.build(vc, WeightResolver.synthetic(b, 8, DType.F16))) {
            Random r = new Random(2);
            Tensor latent = dev(b, CudaTestSupport.gaussian(r, 1, 0, 1, 96, 96, 8));
            Tensor ctx = dev(b, CudaTestSupport.gaussian(r, 1, 0, 1, 2, 1024));
            Tensor rgb = dev(b, CudaTestSupport.uniform(r, -1, 1, 1, 768, 768, 3));
            Tensor z = dev(b, CudaTestSupport.gaussian(r, 1, 0, 1, 96, 96, 4));
            b.pool().resetPeak();
            double u = time(b, reps, () -> unet.forward(latent, 999f, ctx, ActivationHook.NONE).close());
            double e = time(b, reps, () -> vae.encodeMean(rgb, ActivationHook.NONE).close());
            double d = time(b, reps, () -> vae.decode(z, ActivationHook.NONE).close());
            System.out.printf("  SD2 768² (%s activations, synthetic weights): UNet %.1f ms, VAE encode %.1f ms, decode %.1f ms; "
                    + "peak %.2f GB activations, %.2f GB weights; %d driver allocations in total%n", dt, u * 1e3, e * 1e3, d * 1e3,
                    b.peakMemoryBytes() / 1e9, b.pool().persistentBytes() / 1e9, b.pool().driverAllocations());
            latent.close();
            ctx.close();
            rgb.close();
            z.close();
        }
    }
}
