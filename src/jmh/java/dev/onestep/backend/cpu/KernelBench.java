package dev.onestep.backend.cpu;

import dev.onestep.backend.Conv2dWeights;
import dev.onestep.backend.LinearWeights;
import dev.onestep.backend.Padding;
import dev.onestep.tensor.DType;
import dev.onestep.tensor.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The CPU backend's hot kernels at the real SD2 shapes (384×512 image, 48×64 latent), seeded inputs, through the public
 * backend ops (so output allocation from the pool is included, as in the networks). Times are per op call; GFLOP
 * per call are in each benchmark's comment so GFLOP/s = GFLOP / time. See docs/PERF.md.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Djdk.incubator.vector.VECTOR_ACCESS_OOB_CHECK=0",
        "--enable-native-access=ALL-UNNAMED", "-XX:+UseParallelGC", "-Xmx8g"})
public class KernelBench {

    static Tensor random(long seed, DType dtype, float scale, int... shape) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = (float) ((r.nextDouble() * 2 - 1) * scale);
        Tensor t = Tensor.of(v, shape);
        if (dtype == DType.F32) return t;
        Tensor h = Tensor.allocate(dtype, shape);
        for (int i = 0; i < v.length; i++)
            h.data().setAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, i,
                    dtype == DType.F16 ? Float.floatToFloat16(v[i]) : DType.f32ToBf16(v[i]));
        t.close();
        return h;
    }

    /** Square GEMM (2·n³ FLOP: 17.2 GFLOP at n = 2048) with F32 or F16 weights; compare with OpenBLAS via {@link GemmVsOpenBlas}. */
    @State(Scope.Benchmark)
    public static class GemmState {
        @Param({"2048"}) public int n;
        @Param({"F32", "F16"}) public String weights;
        CpuBackend b;
        Tensor x;
        LinearWeights w;

        @Setup(Level.Trial)
        public void setup() {
            b = new CpuBackend();
            x = random(1, DType.F32, 1, n, n);
            try (Tensor wt = random(2, DType.valueOf(weights), 0.05f, n, n)) {
                w = b.prepareLinear(wt, null);
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            x.close();
            w.close();
            b.close();
        }
    }

    @Benchmark
    public Object gemm(GemmState s) {
        Tensor y = s.b.linear(s.x, s.w);
        y.close();
        return y;
    }

    /**
     * 3×3 same-padded convolutions at VAE and UNet shapes ("H×W×Cin>Cout"), F16 weights; 2·H·W·9·Cin·Cout FLOP:
     * 384x512x3>128 (the VAE encoder's conv_in) 1.4, 384x512x128>3 (the decoder's conv_out) 1.4, 384x512x128>128 58.0, 192x256x256>256 58.0, 96x128x512>512 58.0, 48x64x320>320 5.7, 12x16x1280>1280 5.7 GFLOP.
     */
    @State(Scope.Benchmark)
    public static class ConvState {
        @Param({"384x512x3>128", "384x512x128>3", "384x512x128>128", "192x256x256>256", "96x128x512>512", "48x64x320>320", "12x16x1280>1280"})
        public String conv;
        CpuBackend b;
        Tensor x;
        Conv2dWeights w;

        @Setup(Level.Trial)
        public void setup() {
            String[] p = conv.split("[x>]");
            int h = Integer.parseInt(p[0]), wd = Integer.parseInt(p[1]), ci = Integer.parseInt(p[2]), co = Integer.parseInt(p[3]);
            b = new CpuBackend();
            x = random(3, DType.F32, 1, 1, h, wd, ci);
            try (Tensor wt = random(4, DType.F16, (float) (1 / Math.sqrt(9.0 * ci)), co, ci, 3, 3); Tensor bias = random(5, DType.F16, 0.1f, co)) {
                w = b.prepareConv2d(wt, bias);
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            x.close();
            w.close();
            b.close();
        }
    }

    @Benchmark
    public Object conv3x3(ConvState s) {
        Tensor y = s.b.conv2d(s.x, s.w, 1, Padding.same(1));
        y.close();
        return y;
    }

    /**
     * Attention "L×heads×d": the VAE mid block (3072 tokens at 384×512, one 512-wide head; 4·L²·d = 19.3 GFLOP) and a UNet
     * self-attention at the 48×64 latent (5 heads of 64; 12.1 GFLOP); "L×heads×d×Lk": the UNet's cross-attention to 2
     * text tokens (16 MFLOP).
     */
    @State(Scope.Benchmark)
    public static class AttentionState {
        @Param({"3072x1x512", "3072x5x64", "3072x5x64x2"})
        public String attn;
        CpuBackend b;
        Tensor q, k, v;
        int heads;
        float scale;

        @Setup(Level.Trial)
        public void setup() {
            String[] p = attn.split("x");
            int l = Integer.parseInt(p[0]), d = Integer.parseInt(p[2]), lk = p.length > 3 ? Integer.parseInt(p[3]) : l;
            heads = Integer.parseInt(p[1]);
            scale = (float) (1 / Math.sqrt(d));
            b = new CpuBackend();
            q = random(6, DType.F32, 1, 1, l, heads * d);
            k = random(7, DType.F32, 1, 1, lk, heads * d);
            v = random(8, DType.F32, 1, 1, lk, heads * d);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            q.close();
            k.close();
            v.close();
            b.close();
        }
    }

    @Benchmark
    public Object attention(AttentionState s) {
        Tensor y = s.b.attention(s.q, s.k, s.v, s.heads, s.scale, false);
        y.close();
        return y;
    }

    /** GroupNorm(32) + SiLU over the VAE's largest activations (memory-bound: read twice, write once). */
    @State(Scope.Benchmark)
    public static class NormState {
        @Param({"384x512x128", "384x512x256"})
        public String norm;
        CpuBackend b;
        Tensor x, gamma, beta;

        @Setup(Level.Trial)
        public void setup() {
            String[] p = norm.split("x");
            int c = Integer.parseInt(p[2]);
            b = new CpuBackend();
            x = random(9, DType.F32, 1, 1, Integer.parseInt(p[0]), Integer.parseInt(p[1]), c);
            gamma = random(10, DType.F32, 1, c);
            beta = random(11, DType.F32, 1, c);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            x.close();
            gamma.close();
            beta.close();
            b.close();
        }
    }

    @Benchmark
    public Object groupNormSilu(NormState s) {
        Tensor y = s.b.groupNorm(s.x, 32, s.gamma, s.beta, 1e-6f, true);
        y.close();
        return y;
    }
}
