package dev.onestep.backend.cpu;

import dev.onestep.backend.Backend;
import dev.onestep.backend.Conv2dWeights;
import dev.onestep.backend.LinearWeights;
import dev.onestep.backend.OpOutput;
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
 * {@link ConvGemm}, with nearest up-sampling fusable into the patch gather; a short K or a few output channels go to the
 * direct kernels of {@link ConvDirect}); weights stay in the checkpoint's dtype
 * (F16/BF16 packed at half the memory, widened per panel slice in the GEMM). Long non-causal attention runs as two
 * GEMMs per query block ({@link AttentionGemm}), the rest tiled with an online softmax ({@link FlashAttention}); norms
 * are two-pass ({@link Norms}). Op outputs come from a {@link BufferPool} that reuses freed activations by size, so
 * steady-state passes do not page-fault; {@link #peakMemoryBytes()} reports its peak. {@code -Donestep.cpu.profile=true}
 * prints a per-op time table at exit ({@link OpProfile}). Every vector loop has a scalar twin: {@code -Donestep.cpu.vector=false} (or
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

    /** Idle pooled activation memory kept for reuse: {@code -Donestep.cpu.poolIdleMB} (default 1024). */
    static final long POOL_IDLE_BYTES = Long.getLong("onestep.cpu.poolIdleMB", 1024) << 20;

    private final boolean vector;
    /**
     * Address space reserved for the activation region ({@link BufferPool}): {@code -Donestep.cpu.poolRegionMB}, default
     * the machine's physical memory (only what is written becomes resident); 0 maps every buffer on its own.
     */
    static final long POOL_REGION_BYTES = Long.getLong("onestep.cpu.poolRegionMB", MappedMemory.physicalBytes() >> 20) << 20;

    private final BufferPool pool = new BufferPool(POOL_IDLE_BYTES, POOL_REGION_BYTES);

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
        return Checks.hostF32Copy("upload", host, true);
    }

    @Override
    public Tensor download(Tensor t) {
        return Checks.hostF32Copy("download", t, false);
    }

    @Override
    public Tensor zeros(int... shape) {
        return pool.tensor(DType.F32, true, shape);
    }

    /** An F32 output tensor from the pool, NOT cleared: every op below overwrites all of its output. */
    private Tensor out(int... shape) {
        return pool.tensor(DType.F32, false, shape);
    }

    /** Peak bytes of pooled activation memory (live plus idle buffers) since construction or {@link #resetPeakMemory}. */
    @Override
    public long peakMemoryBytes() { return pool.peakBytes(); }

    /** Bytes of pooled activation memory held by live tensors now. */
    @Override
    public long liveMemoryBytes() { return pool.liveBytes(); }

    /** Restarts {@link #peakMemoryBytes} from what the pool holds now. */
    public void resetPeakMemory() { pool.resetPeak(); }

    /**
     * Gives pooled activation memory no tensor uses back to the OS (the region's free pages, idle buffers) and drops
     * the Winograd convolutions' kept weight transforms.
     */
    public void trimMemory() {
        pool.trim();
        ConvWinograd.trim();
    }

    /** One line on the buffer pool (hits, buffers, bytes). */
    public String memoryStats() { return pool.stats(); }

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
        @Override public void close() { packed.close(); }
    }

    static final class LinearW implements LinearWeights {
        final Gemm.Packed packed;

        LinearW(Gemm.Packed packed) { this.packed = packed; }

        @Override public int inFeatures() { return packed.k; }
        @Override public int outFeatures() { return packed.n; }
        @Override public boolean hasBias() { return packed.bias != null; }
        @Override public void close() { packed.close(); }
    }

    /**
     * Whether packed weights keep a half-precision checkpoint's dtype (F16/BF16, widened in the GEMM; default) or are
     * widened to F32 at load ({@code -Donestep.cpu.f32Weights=true}: twice the memory, no per-panel widening).
     */
    static final boolean F32_WEIGHTS = Boolean.getBoolean("onestep.cpu.f32Weights");

    private static DType storage(Tensor weight) {
        return F32_WEIGHTS ? DType.F32 : switch (weight.dtype()) {
            case F16 -> DType.F16;
            case BF16 -> DType.BF16;
            default -> DType.F32;
        };
    }

    @Override
    public Conv2dWeights prepareConv2d(Tensor weight, Tensor bias) {
        Checks.require(weight != null && weight.rank() == 4, "prepareConv2d", "weight must be [O, I, kh, kw], got", weight == null ? null : weight.shape());
        int o = weight.dim(0), i = weight.dim(1), kh = weight.dim(2), kw = weight.dim(3);
        Widen.Reader w = Widen.reader("prepareConv2d", weight); // read in place: no full-size float[] copy at load
        float[] b = bias == null ? null : Widen.toFloats("prepareConv2d", bias);
        Checks.require(b == null || b.length == o, "prepareConv2d", "bias must be [" + o + "], got", bias == null ? null : bias.shape());
        // k = (ky·kw + kx)·I + ci  ←  w[o][ci][ky][kx]
        Gemm.Packed p = Gemm.Packed.of(kh * kw * i, o, (k, col) -> {
            int ci = k % i, tap = k / i;
            return w.at(((long) (col * i + ci) * kh + tap / kw) * kw + tap % kw);
        }, b, storage(weight));
        return new ConvW(o, i, kh, kw, p);
    }

    @Override
    public LinearWeights prepareLinear(Tensor weight, Tensor bias) {
        Checks.require(weight != null && weight.rank() == 2, "prepareLinear", "weight must be [out, in], got", weight == null ? null : weight.shape());
        int out = weight.dim(0), in = weight.dim(1);
        Widen.Reader w = Widen.reader("prepareLinear", weight);
        float[] b = bias == null ? null : Widen.toFloats("prepareLinear", bias);
        Checks.require(b == null || b.length == out, "prepareLinear", "bias must be [" + out + "], got", bias == null ? null : bias.shape());
        return new LinearW(Gemm.Packed.of(in, out, (k, col) -> w.at((long) col * in + k), b, storage(weight)));
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
        long t0 = OpProfile.start();
        Checks.require(weights instanceof ConvW, "conv2d", "weights were not prepared by CpuBackend:", weights);
        ConvW w = (ConvW) weights;
        Checks.checkConv("conv2d", x, w.i, w.kh, w.kw, stride, pad);
        int n = x.dim(0), h = x.dim(1), wd = x.dim(2);
        int oh = pad.outSize(h, w.kh, stride, true), ow = pad.outSize(wd, w.kw, stride, false);
        Tensor y = out(n, oh, ow, w.o);
        OpOutput.fill(y, () -> ConvGemm.run(x.data(), n, h, wd, w.i, w.kh, w.kw, stride, pad, w.packed, y.data(), oh, ow, vector));
        if (OpProfile.ON) OpProfile.stop(t0, "conv2d k" + w.kh + " s" + stride + " " + h + "x" + wd + "x" + w.i + "->" + w.o);
        return y;
    }

    /** Fused: the conv's patch gather reads x through the nearest-neighbour index maps (no up-sampled tensor). */
    @Override
    public Tensor upsampleNearestConv2d(Tensor x, int outH, int outW, Conv2dWeights weights, int stride, Padding pad) {
        long t0 = OpProfile.start();
        Checks.checkUpsample("upsampleNearestConv2d", x, outH, outW);
        Checks.require(weights instanceof ConvW, "upsampleNearestConv2d", "weights were not prepared by CpuBackend:", weights);
        ConvW w = (ConvW) weights;
        Checks.require(x.dim(3) == w.i, "upsampleNearestConv2d", "x must have " + w.i + " channels, got", x.shape());
        Checks.require(stride >= 1 && pad != null, "upsampleNearestConv2d", "bad stride/padding: " + stride + " " + pad);
        Checks.require(pad.outSize(outH, w.kh, stride, true) > 0 && pad.outSize(outW, w.kw, stride, false) > 0,
                "upsampleNearestConv2d", "empty output for kernel " + w.kh + "x" + w.kw + " at " + outH + "x" + outW + "; x", x.shape());
        int n = x.dim(0), h = x.dim(1), wd = x.dim(2);
        int[] rows = new int[outH], cols = new int[outW];
        for (int i = 0; i < outH; i++) rows[i] = CpuMath.nearestSource(i, h, outH);
        for (int i = 0; i < outW; i++) cols[i] = CpuMath.nearestSource(i, wd, outW);
        int oh = pad.outSize(outH, w.kh, stride, true), ow = pad.outSize(outW, w.kw, stride, false);
        Tensor y = out(n, oh, ow, w.o);
        OpOutput.fill(y, () -> ConvGemm.run(x.data(), n, outH, outW, w.i, rows, cols, w.kh, w.kw, stride, pad, w.packed, y.data(), oh, ow, vector));
        if (OpProfile.ON) OpProfile.stop(t0, "upsample+conv2d k" + w.kh + " " + h + "x" + wd + "x" + w.i + "->" + outH + "x" + outW + "x" + w.o);
        return y;
    }

    @Override
    public Tensor linear(Tensor x, LinearWeights weights) {
        long t0 = OpProfile.start();
        Checks.require(weights instanceof LinearW, "linear", "weights were not prepared by CpuBackend:", weights);
        LinearW w = (LinearW) weights;
        Checks.f32("linear", "x", x);
        Checks.require(x.rank() >= 1 && x.dim(-1) == w.packed.k, "linear", "x's last dim must be " + w.packed.k + ", got", x.shape());
        long m = Checks.rows(x);
        Checks.require(m < Integer.MAX_VALUE, "linear", "too many rows:", x.shape());
        Tensor y = out(Checks.withLast(x.shape(), w.packed.n));
        OpOutput.fill(y, () -> Gemm.run((int) m, w.packed, Gemm.matrix(x.data(), w.packed.k), Gemm.uniformKBlocks(w.packed.k), y.data(), vector));
        if (OpProfile.ON) OpProfile.stop(t0, "linear M=" + m + " K=" + w.packed.k + " N=" + w.packed.n);
        return y;
    }

    @Override
    public Tensor groupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, boolean silu) {
        long t0 = OpProfile.start();
        Checks.checkGroupNorm("groupNorm", x, groups, gamma, beta);
        int n = x.dim(0), c = x.dim(-1);
        long p = x.numel() / ((long) n * c);
        Tensor y = out(x.shape());
        OpOutput.fill(y, () -> Norms.groupNorm(x.data(), y.data(), n, p, c, groups, gamma.toFloatArray(), beta.toFloatArray(), eps, silu, vector));
        if (OpProfile.ON) OpProfile.stop(t0, "groupNorm" + (silu ? "+silu " : " ") + java.util.Arrays.toString(x.shape()));
        return y;
    }

    @Override
    public Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps) {
        long t0 = OpProfile.start();
        Checks.checkLayerNorm("layerNorm", x, gamma, beta);
        Tensor y = out(x.shape());
        OpOutput.fill(y, () -> Norms.layerNorm(x.data(), y.data(), Checks.rows(x), x.dim(-1), gamma.toFloatArray(), beta.toFloatArray(), eps, vector));
        if (OpProfile.ON) OpProfile.stop(t0, "layerNorm " + java.util.Arrays.toString(x.shape()));
        return y;
    }

    @Override
    public Tensor silu(Tensor x) {
        long t0 = OpProfile.start();
        Checks.f32("silu", "x", x);
        Tensor y = out(x.shape());
        OpOutput.fill(y, () -> Elementwise.unary(Elementwise.Unary.SILU, x.data(), y.data(), x.numel(), vector));
        if (OpProfile.ON) OpProfile.stop(t0, "silu " + java.util.Arrays.toString(x.shape()));
        return y;
    }

    @Override
    public Tensor gelu(Tensor x) {
        Checks.f32("gelu", "x", x);
        Tensor y = out(x.shape());
        OpOutput.fill(y, () -> Elementwise.unary(Elementwise.Unary.GELU, x.data(), y.data(), x.numel(), vector));
        return y;
    }

    @Override
    public Tensor geglu(Tensor x) {
        long t0 = OpProfile.start();
        Checks.f32("geglu", "x", x);
        Checks.require(x.rank() >= 1 && x.dim(-1) % 2 == 0, "geglu", "last dim must be even, got", x.shape());
        int f = x.dim(-1) / 2;
        Tensor y = out(Checks.withLast(x.shape(), f));
        OpOutput.fill(y, () -> Elementwise.geglu(x.data(), y.data(), Checks.rows(x), f, vector));
        if (OpProfile.ON) OpProfile.stop(t0, "geglu " + java.util.Arrays.toString(x.shape()));
        return y;
    }

    @Override
    public Tensor attention(Tensor q, Tensor k, Tensor v, int heads, float scale, boolean causal) {
        long t0 = OpProfile.start();
        Checks.checkAttention("attention", q, k, v, heads);
        int n = q.dim(0), lq = q.dim(1), lk = k.dim(1), d = q.dim(2) / heads, dv = v.dim(2) / heads;
        boolean work = lq > 0 && d > 0 && dv > 0;
        Tensor out = pool.tensor(DType.F32, !work, n, lq, heads * dv);
        OpOutput.fill(out, () -> {
            if (work && ShortAttention.applies(lk))
                ShortAttention.run(q.data(), k.data(), v.data(), out.data(), n, lq, lk, heads, d, dv, scale, causal, vector);
            else if (work && AttentionGemm.applies(lq, lk, d, dv, causal))
                AttentionGemm.run(q.data(), k.data(), v.data(), out.data(), n, lq, lk, heads, d, dv, scale, vector);
            else if (work)
                FlashAttention.run(q.data(), k.data(), v.data(), out.data(), n, lq, lk, heads, d, dv, scale, causal, vector);
        });
        if (OpProfile.ON) OpProfile.stop(t0, "attention Lq=" + lq + " Lk=" + lk + " heads=" + heads + " d=" + d);
        return out;
    }

    @Override
    public Tensor upsampleNearest(Tensor x, int outH, int outW) {
        long t0 = OpProfile.start();
        Checks.checkUpsample("upsampleNearest", x, outH, outW);
        int n = x.dim(0), h = x.dim(1), w = x.dim(2), c = x.dim(3);
        Tensor y = out(n, outH, outW, c);
        int[] sx = new int[outW];
        for (int ox = 0; ox < outW; ox++) sx[ox] = CpuMath.nearestSource(ox, w, outW);
        MemorySegment src = x.data(), dst = y.data();
        OpOutput.fill(y, () -> Parallel.parallelFor(n * outH, row -> {
            int b = row / outH, oy = row % outH, iy = CpuMath.nearestSource(oy, h, outH);
            for (int ox = 0; ox < outW; ox++)
                MemorySegment.copy(src, (((long) b * h + iy) * w + sx[ox]) * c * 4, dst, (((long) b * outH + oy) * outW + ox) * c * 4, c * 4L);
        }));
        if (OpProfile.ON) OpProfile.stop(t0, "upsample " + java.util.Arrays.toString(x.shape()));
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
        Tensor y = out(1, ids.length, c);
        OpOutput.fill(y, () -> {
            for (int i = 0; i < ids.length; i++) MemorySegment.copy(table.data(), (long) ids[i] * c * 4, y.data(), (long) i * c * 4, c * 4L);
        });
        return y;
    }

    @Override
    public Tensor concatChannels(Tensor a, Tensor b) {
        long t0 = OpProfile.start();
        Checks.checkConcat("concatChannels", a, b);
        int ca = a.dim(-1), cb = b.dim(-1);
        Tensor y = out(Checks.withLast(a.shape(), ca + cb));
        long rows = Checks.rows(a);
        OpOutput.fill(y, () -> {
            Elementwise.copyColumns(a.data(), ca, 0, y.data(), ca + cb, 0, ca, rows);
            Elementwise.copyColumns(b.data(), cb, 0, y.data(), ca + cb, ca, cb, rows);
        });
        if (OpProfile.ON) OpProfile.stop(t0, "concat " + java.util.Arrays.toString(a.shape()));
        return y;
    }

    @Override
    public Tensor sliceChannels(Tensor x, int start, int count) {
        Checks.checkSlice("sliceChannels", x, start, count);
        int c = x.dim(-1);
        Tensor y = out(Checks.withLast(x.shape(), count));
        OpOutput.fill(y, () -> Elementwise.copyColumns(x.data(), c, start, y.data(), count, 0, count, Checks.rows(x)));
        return y;
    }

    @Override
    public Tensor add(Tensor a, Tensor b) {
        long t0 = OpProfile.start();
        Checks.f32("add", "a", a);
        Checks.f32("add", "b", b);
        Checks.sameShape("add", a, b);
        Tensor y = out(a.shape());
        OpOutput.fill(y, () -> Elementwise.axpby(1f, a.data(), 1f, b.data(), y.data(), a.numel(), vector));
        if (OpProfile.ON) OpProfile.stop(t0, "add " + java.util.Arrays.toString(a.shape()));
        return y;
    }

    @Override
    public Tensor addInPlace(Tensor a, Tensor b) {
        long t0 = OpProfile.start();
        Checks.f32("addInPlace", "a", a);
        Checks.f32("addInPlace", "b", b);
        Checks.sameShape("addInPlace", a, b);
        Elementwise.axpby(1f, a.data(), 1f, b.data(), a.data(), a.numel(), vector);
        if (OpProfile.ON) OpProfile.stop(t0, "addInPlace " + java.util.Arrays.toString(a.shape()));
        return a;
    }

    @Override
    public Tensor addPerChannel(Tensor x, Tensor v) {
        long t0 = OpProfile.start();
        Checks.checkAddPerChannel("addPerChannel", x, v);
        int n = x.dim(0), c = x.dim(-1);
        Tensor y = out(x.shape());
        OpOutput.fill(y, () -> Elementwise.addPerChannel(x.data(), v.data(), y.data(), n, x.numel() / ((long) n * c), c, vector));
        if (OpProfile.ON) OpProfile.stop(t0, "addPerChannel " + java.util.Arrays.toString(x.shape()));
        return y;
    }

    @Override
    public Tensor axpby(float alpha, Tensor x, float beta, Tensor y) {
        long t0 = OpProfile.start();
        Checks.f32("axpby", "x", x);
        if (y != null) {
            Checks.f32("axpby", "y", y);
            Checks.sameShape("axpby", x, y);
        }
        Tensor out = out(x.shape());
        OpOutput.fill(out, () -> Elementwise.axpby(alpha, x.data(), beta, y == null ? null : y.data(), out.data(), x.numel(), vector));
        if (OpProfile.ON) OpProfile.stop(t0, "axpby " + java.util.Arrays.toString(x.shape()));
        return out;
    }

    @Override
    public void close() { pool.close(); }
}
