package dev.onestep.backend.cpu;

import dev.onestep.bench.Sd2Configs;
import dev.onestep.model.ActivationHook;
import dev.onestep.model.WeightResolver;
import dev.onestep.model.vae.AutoencoderKL;
import dev.onestep.tensor.DType;
import dev.onestep.tensor.Tensor;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Peak memory of the full-size SD2 VAE decoder (synthetic F16 weights) decoding an S×S image, untiled or with
 * {@link AutoencoderKL#decodeTiled}: prints time, the CPU backend's pooled activation peak and the process's peak RSS
 * (VmHWM). Args: size [tileLatent overlap] (no tile: untiled). Run with the JMH classpath (docs/PERF.md).
 */
public final class TiledDecodeMemory {
    private TiledDecodeMemory() {}

    public static void main(String[] args) throws Exception {
        int size = Integer.parseInt(args[0]);
        int tile = args.length > 1 ? Integer.parseInt(args[1]) : 0, overlap = args.length > 2 ? Integer.parseInt(args[2]) : 0;
        CpuBackend b = new CpuBackend();
        try (AutoencoderKL vae = AutoencoderKL.build(Sd2Configs.vae(), WeightResolver.synthetic(b, 2, DType.F16))) {
            int l = size / 8;
            float[] v = new float[l * l * 4];
            java.util.SplittableRandom r = new java.util.SplittableRandom(3);
            for (int i = 0; i < v.length; i++) v[i] = (float) (r.nextGaussian());
            b.resetPeakMemory();
            long t0 = System.nanoTime();
            try (Tensor z = Tensor.of(v, 1, l, l, 4);
                 Tensor out = tile > 0 ? vae.decodeTiled(z, tile, overlap) : vae.decode(z, ActivationHook.NONE)) {
                System.out.printf(Locale.ROOT, "decode %dx%d %s: %.1f s, output %s, pooled activation peak %.2f GB, process peak RSS %.2f GB%n",
                        size, size, tile > 0 ? "tiled " + tile + "/" + overlap : "untiled", (System.nanoTime() - t0) / 1e9,
                        java.util.Arrays.toString(out.shape()), b.peakMemoryBytes() / 1e9, vmHwm() / 1e9);
            }
        }
        System.out.println(b.memoryStats());
    }

    static long vmHwm() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status")))
            if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("\\D", "")) * 1024;
        return -1;
    }
}
