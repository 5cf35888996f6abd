package dev.onestep.backend.cpu;

import dev.onestep.backend.LinearWeights;
import dev.onestep.tensor.DType;
import dev.onestep.tensor.Tensor;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Our GEMM against OpenBLAS sgemm in one run, interleaved so both see the same machine load: n = 2048 square, best of 5
 * (each side; rounds alternate), OpenBLAS through python3 + numpy with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE removed from
 * its environment. Run with the JMH classpath (docs/PERF.md); args: [n] [rounds] [python].
 */
public final class GemmVsOpenBlas {
    private GemmVsOpenBlas() {}

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 2048;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        String python = args.length > 2 ? args[2] : "python3";
        double flop = 2.0 * n * n * n;
        CpuBackend b = new CpuBackend();
        System.out.println(b.describe());
        Tensor x = KernelBench.random(1, DType.F32, 1, n, n);
        double[] best = {Double.MAX_VALUE, Double.MAX_VALUE, Double.MAX_VALUE};
        String[] names = {"onestep F32 weights", "onestep F16 weights", "OpenBLAS sgemm"};
        LinearWeights[] w = new LinearWeights[2];
        for (int i = 0; i < 2; i++)
            try (Tensor wt = KernelBench.random(2, i == 0 ? DType.F32 : DType.F16, 0.05f, n, n)) {
                w[i] = b.prepareLinear(wt, null);
            }
        for (int warm = 0; warm < 3; warm++) for (LinearWeights wi : w) b.linear(x, wi).close();
        for (int r = 0; r < rounds; r++) {
            for (int i = 0; i < 2; i++) {
                long t0 = System.nanoTime();
                b.linear(x, w[i]).close();
                best[i] = Math.min(best[i], (System.nanoTime() - t0) / 1e9);
            }
            best[2] = Math.min(best[2], openBlas(python, n));
        }
        for (int i = 0; i < 3; i++)
            System.out.printf(Locale.ROOT, "%-22s n=%d best %.1f ms  %.1f GFLOP/s%n", names[i], n, best[i] * 1e3, flop / best[i] / 1e9);
        System.out.printf(Locale.ROOT, "ratio onestep/OpenBLAS: F32 weights %.2f, F16 weights %.2f%n", best[2] / best[0], best[2] / best[1]);
    }

    /** Seconds for one numpy float32 n×n matmul, best of 5 inside one python process (after a warm-up). */
    private static double openBlas(String python, int n) throws IOException, InterruptedException {
        String code = "import numpy,time\n"
                + "n=" + n + "\n"
                + "a=numpy.random.rand(n,n).astype(numpy.float32); b=numpy.random.rand(n,n).astype(numpy.float32)\n"
                + "a@b\nbest=1e9\n"
                + "for i in range(5):\n    t=time.perf_counter(); c=a@b; best=min(best,time.perf_counter()-t)\n"
                + "print(best)\n";
        List<String> cmd = new ArrayList<>(List.of(python, "-c", code));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().remove("OPENBLAS_CORETYPE");
        pb.environment().remove("OPENBLAS_L2_SIZE");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes()).trim();
        if (p.waitFor() != 0) throw new IOException("python failed: " + out);
        String[] lines = out.split("\n");
        return Double.parseDouble(lines[lines.length - 1].trim());
    }
}
