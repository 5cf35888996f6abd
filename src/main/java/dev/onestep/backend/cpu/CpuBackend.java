package dev.onestep.backend.cpu;

import dev.onestep.backend.Backend;
import dev.onestep.backend.Conv2dWeights;
import dev.onestep.backend.LinearWeights;
import dev.onestep.backend.Padding;
import dev.onestep.tensor.DType;
import dev.onestep.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

/**
 * The fast CPU backend: Vector API kernels on every core, F32 host tensors.
 *
 * <p>Linear layers and convolutions run on one packed GEMM ({@link Gemm}; convolutions as implicit GEMM,
 * {@link ConvGemm}), attention is tiled with an online softmax ({@link FlashAttention}), norms are two-pass
 * ({@link Norms}). Every vector loop has a scalar twin: {@code -Donestep.cpu.vector=false} (or
 * {@code -Donestep.cpu.vectorBits=0}) selects them, as does {@code new CpuBackend(false)}; tests compare both
 * against {@link ReferenceBackend}. Threads: {@code -Donestep.threads=N} ({@link Parallel}).
 */
public final class CpuBackend implements Backend {

    /** The vector species every kernel uses: {@code onestep.cpu.vectorBits} (128/256/512), default the preferred one. */
    static final VectorSpecies<Float> SPECIES = species();

    /** Whether the vector paths are on by default (property onestep.cpu.vector, vectorBits != 0). */
    public static final boolean VECTOR_DEFAULT =
            Boolean.parseBoolean(System.getProperty("onestep.cpu.vector", "true")) && Integer.getInteger("onestep.cpu.vectorBits", -1) != 0;

    private static VectorSpecies<Float> species() {
        int bits = Integer.getInteger("onestep.cpu.vectorBits", -1);
        if (bits <= 0 || bits > FloatVector.SPECIES_PREFERRED.vectorBitSize()) return FloatVector.SPECIES_PREFERRED;
        return VectorSpecies.of(float.class, VectorShape.forBitSize(bits));
    }

    private final boolean vector;

    public CpuBackend() {
        this(VECTOR_DEFAULT);
    }

    /** @param vector false forces the scalar twins of every kernel */
    public CpuBackend(boolean vector) {
        this.vector = vector;
    }

    public boolean vectorized() { return vector; }

    @Override
    public String name() { return "cpu"; }

    @Override
    public String describe() {
        String lanes = vector
                ? SPECIES.vectorBitSize() + "-bit vectors (" + SPECIES.length() + " floats)"
                : "scalar (vector API off)";
        return "CPU: " + Parallel.THREADS + " threads, " + lanes;
    }

    @Override
    public DType computeType() { return DType.F32; }

    // ---------------------------------------------------------------- memory

    @Override
    public Tensor upload(Tensor host) {
        Checks.require(host != null && host.isHost() && host.dtype().isFloating(), "upload", "expected a floating host tensor, got", host);
        return host.toF32();
    }

    @Override
    public Tensor download(Tensor t) {
        Checks.require(t != null && t.isHost(), "download", "expected a host tensor, got", t);
        return t.toF32();
    }

    @Override
    public Tensor zeros(int... shape) {
        return Tensor.allocate(DType.F32, shape);
    }

    // ---------------------------------------------------------------- weights

    /** Packed convolution weights: K = (ky, kx, ci), panels of {@link Gemm#NR} output channels. */
    static final class ConvW implements Conv2dWeights {
        final int o, i, kh, kw;
        final Gemm.Packed packed;

        ConvW(int o, int i, int kh, int kw, Gemm.Packed packed) {
            this.o = o;
            this.i = i;
            this.kh = kh;
            this.kw = kw;
            this.packed = packed;
        }

        @Override public int outChannels() { return o; }
        @Override public int inChannels() { return i; }
        @Override public int kernelH() { return kh; }
        @Override public int kernelW() { return kw; }
        @Override public boolean hasBias() { return packed.bias != null; }
        @Override public void close() {}
    }

    static final class LinearW implements LinearWeights {
        final Gemm.Packed packed;

        LinearW(Gemm.Packed packed) { this.packed = packed; }

        @Override public int inFeatures() { return packed.k; }
        @Override public int outFeatures() { return packed.n; }
        @Override public boolean hasBias() { return packed.bias != null; }
        @Override public void close() {}
    }

    @Override
    public Conv2dWeights prepareConv2d(Tensor weight, Tensor bias) {
        Checks.require(weight != null && weight.rank() == 4, "prepareConv2d", "weight must be [O, I, kh, kw], got", weight == null ? null : weight.shape());
        int o = weight.dim(0), i = weight.dim(1), kh = weight.dim(2), kw = weight.dim(3);
        float[] w = Widen.toFloats("prepareConv2d", weight);
        float[] b = bias == null ? null : Widen.toFloats("prepareConv2d", bias);
        Checks.require(b == null || b.length == o, "prepareConv2d", "bias must be [" + o + "], got", bias == null ? null : bias.shape());
        // k = (ky·kw + kx)·I + ci  ←  w[o][ci][ky][kx]
        Gemm.Packed p = Gemm.Packed.of(kh * kw * i, o, (k, col) -> {
            int ci = k % i, tap = k / i;
            return w[((col * i + ci) * kh + tap / kw) * kw + tap % kw];
        }, b);
        return new ConvW(o, i, kh, kw, p);
    }

    @Override
    public LinearWeights prepareLinear(Tensor weight, Tensor bias) {
        Checks.require(weight != null && weight.rank() == 2, "prepareLinear", "weight must be [out, in], got", weight == null ? null : weight.shape());
        int out = weight.dim(0), in = weight.dim(1);
        float[] w = Widen.toFloats("prepareLinear", weight);
        float[] b = bias == null ? null : Widen.toFloats("prepareLinear", bias);
        Checks.require(b == null || b.length == out, "prepareLinear", "bias must be [" + out + "], got", bias == null ? null : bias.shape());
        return new LinearW(Gemm.Packed.of(in, out, (k, col) -> w[col * in + k], b));
    }

    @Override
    public Tensor prepareParameter(Tensor host) {
        Checks.require(host != null && host.isHost() && host.dtype().isFloating() && (host.rank() == 1 || host.rank() == 2),
                "prepareParameter", "expected a 1-D or 2-D floating host tensor, got", host);
        return host.toF32();
    }

    // ---------------------------------------------------------------- ops

    @Override
    public Tensor conv2d(Tensor x, Conv2dWeights weights, int stride, Padding pad) {
        Checks.require(weights instanceof ConvW, "conv2d", "weights were not prepared by CpuBackend:", weights);
        ConvW w = (ConvW) weights;
        Checks.checkConv("conv2d", x, w.i, w.kh, w.kw, stride, pad);
        int n = x.dim(0), h = x.dim(1), wd = x.dim(2);
        int oh = pad.outSize(h, w.kh, stride, true), ow = pad.outSize(wd, w.kw, stride, false);
        Tensor y = Tensor.allocate(DType.F32, n, oh, ow, w.o);
        ConvGemm.run(x.data(), n, h, wd, w.i, w.kh, w.kw, stride, pad, w.packed, y.data(), oh, ow, vector);
        return y;
    }

    @Override
    public Tensor linear(Tensor x, LinearWeights weights) {
        Checks.require(weights instanceof LinearW, "linear", "weights were not prepared by CpuBackend:", weights);
        LinearW w = (LinearW) weights;
        Checks.f32("linear", "x", x);
        Checks.require(x.rank() >= 1 && x.dim(-1) == w.packed.k, "linear", "x's last dim must be " + w.packed.k + ", got", x.shape());
        long m = Checks.rows(x);
        Checks.require(m < Integer.MAX_VALUE, "linear", "too many rows:", x.shape());
        Tensor y = Tensor.allocate(DType.F32, Checks.withLast(x.shape(), w.packed.n));
        Gemm.run((int) m, w.packed, Gemm.matrix(x.data(), w.packed.k), Gemm.uniformKBlocks(w.packed.k), y.data(), vector);
        return y;
    }

    @Override
    public Tensor groupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, boolean silu) {
        Checks.checkGroupNorm("groupNorm", x, groups, gamma, beta);
        int n = x.dim(0), c = x.dim(-1);
        long p = x.numel() / ((long) n * c);
        Tensor y = Tensor.allocate(DType.F32, x.shape());
        Norms.groupNorm(x.data(), y.data(), n, p, c, groups, gamma.toFloatArray(), beta.toFloatArray(), eps, silu, vector);
        return y;
    }

    @Override
    public Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps) {
        Checks.checkLayerNorm("layerNorm", x, gamma, beta);
        Tensor y = Tensor.allocate(DType.F32, x.shape());
        Norms.layerNorm(x.data(), y.data(), Checks.rows(x), x.dim(-1), gamma.toFloatArray(), beta.toFloatArray(), eps, vector);
        return y;
    }

    @Override
    public Tensor silu(Tensor x) {
        Checks.f32("silu", "x", x);
        Tensor y = Tensor.allocate(DType.F32, x.shape());
        Elementwise.unary(Elementwise.Unary.SILU, x.data(), y.data(), x.numel(), vector);
        return y;
    }

    @Override
    public Tensor gelu(Tensor x) {
        Checks.f32("gelu", "x", x);
        Tensor y = Tensor.allocate(DType.F32, x.shape());
        Elementwise.unary(Elementwise.Unary.GELU, x.data(), y.data(), x.numel(), vector);
        return y;
    }

    @Override
    public Tensor geglu(Tensor x) {
        Checks.f32("geglu", "x", x);
        Checks.require(x.rank() >= 1 && x.dim(-1) % 2 == 0, "geglu", "last dim must be even, got", x.shape());
        int f = x.dim(-1) / 2;
        Tensor y = Tensor.allocate(DType.F32, Checks.withLast(x.shape(), f));
        Elementwise.geglu(x.data(), y.data(), Checks.rows(x), f, vector);
        return y;
    }

    @Override
    public Tensor attention(Tensor q, Tensor k, Tensor v, int heads, float scale, boolean causal) {
        Checks.checkAttention("attention", q, k, v, heads);
        int n = q.dim(0), lq = q.dim(1), lk = k.dim(1), d = q.dim(2) / heads, dv = v.dim(2) / heads;
        Tensor out = Tensor.allocate(DType.F32, n, lq, heads * dv);
        if (lq > 0 && d > 0 && dv > 0)
            FlashAttention.run(q.data(), k.data(), v.data(), out.data(), n, lq, lk, heads, d, dv, scale, causal, vector);
        return out;
    }

    @Override
    public Tensor upsampleNearest(Tensor x, int outH, int outW) {
        Checks.checkUpsample("upsampleNearest", x, outH, outW);
        int n = x.dim(0), h = x.dim(1), w = x.dim(2), c = x.dim(3);
        Tensor y = Tensor.allocate(DType.F32, n, outH, outW, c);
        int[] sx = new int[outW];
        for (int ox = 0; ox < outW; ox++) sx[ox] = CpuMath.nearestSource(ox, w, outW);
        MemorySegment src = x.data(), dst = y.data();
        Parallel.parallelFor(n * outH, row -> {
            int b = row / outH, oy = row % outH, iy = CpuMath.nearestSource(oy, h, outH);
            for (int ox = 0; ox < outW; ox++)
                MemorySegment.copy(src, (((long) b * h + iy) * w + sx[ox]) * c * 4, dst, (((long) b * outH + oy) * outW + ox) * c * 4, c * 4L);
        });
        return y;
    }

    @Override
    public Tensor timestepEmbedding(float[] timesteps, int dim, boolean flipSinToCos, float freqShift) {
        Checks.checkTimestep("timestepEmbedding", timesteps, dim);
        return Tensor.of(CpuMath.timestepEmbedding(timesteps, dim, flipSinToCos, freqShift), timesteps.length, dim);
    }

    @Override
    public Tensor embedding(Tensor table, int[] ids) {
        Checks.checkEmbedding("embedding", table, ids);
        int c = table.dim(1);
        Tensor y = Tensor.allocate(DType.F32, 1, ids.length, c);
        for (int i = 0; i < ids.length; i++) MemorySegment.copy(table.data(), (long) ids[i] * c * 4, y.data(), (long) i * c * 4, c * 4L);
        return y;
    }

    @Override
    public Tensor concatChannels(Tensor a, Tensor b) {
        Checks.checkConcat("concatChannels", a, b);
        int ca = a.dim(-1), cb = b.dim(-1);
        Tensor y = Tensor.allocate(DType.F32, Checks.withLast(a.shape(), ca + cb));
        long rows = Checks.rows(a);
        Elementwise.copyColumns(a.data(), ca, 0, y.data(), ca + cb, 0, ca, rows);
        Elementwise.copyColumns(b.data(), cb, 0, y.data(), ca + cb, ca, cb, rows);
        return y;
    }

    @Override
    public Tensor sliceChannels(Tensor x, int start, int count) {
        Checks.checkSlice("sliceChannels", x, start, count);
        int c = x.dim(-1);
        Tensor y = Tensor.allocate(DType.F32, Checks.withLast(x.shape(), count));
        Elementwise.copyColumns(x.data(), c, start, y.data(), count, 0, count, Checks.rows(x));
        return y;
    }

    @Override
    public Tensor add(Tensor a, Tensor b) {
        Checks.f32("add", "a", a);
        Checks.f32("add", "b", b);
        Checks.sameShape("add", a, b);
        Tensor y = Tensor.allocate(DType.F32, a.shape());
        Elementwise.axpby(1f, a.data(), 1f, b.data(), y.data(), a.numel(), vector);
        return y;
    }

    @Override
    public Tensor addInPlace(Tensor a, Tensor b) {
        Checks.f32("addInPlace", "a", a);
        Checks.f32("addInPlace", "b", b);
        Checks.sameShape("addInPlace", a, b);
        Elementwise.axpby(1f, a.data(), 1f, b.data(), a.data(), a.numel(), vector);
        return a;
    }

    @Override
    public Tensor addPerChannel(Tensor x, Tensor v) {
        Checks.checkAddPerChannel("addPerChannel", x, v);
        int n = x.dim(0), c = x.dim(-1);
        Tensor y = Tensor.allocate(DType.F32, x.shape());
        Elementwise.addPerChannel(x.data(), v.data(), y.data(), n, x.numel() / ((long) n * c), c, vector);
        return y;
    }

    @Override
    public Tensor axpby(float alpha, Tensor x, float beta, Tensor y) {
        Checks.f32("axpby", "x", x);
        if (y != null) {
            Checks.f32("axpby", "y", y);
            Checks.sameShape("axpby", x, y);
        }
        Tensor out = Tensor.allocate(DType.F32, x.shape());
        Elementwise.axpby(alpha, x.data(), beta, y == null ? null : y.data(), out.data(), x.numel(), vector);
        return out;
    }

    @Override
    public void close() {}
}
