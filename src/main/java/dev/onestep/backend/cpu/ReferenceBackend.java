package dev.onestep.backend.cpu;

import dev.onestep.backend.Backend;
import dev.onestep.backend.Conv2dWeights;
import dev.onestep.backend.LinearWeights;
import dev.onestep.backend.Padding;
import dev.onestep.tensor.DType;
import dev.onestep.tensor.Tensor;

/**
 * The oracle: naive, single-threaded scalar loops over float arrays, accumulating in double. Slow on purpose;
 * tests compare every other backend against it. One small method per op, written to be read.
 */
public final class ReferenceBackend implements Backend {

    @Override public String name() { return "reference"; }

    @Override public String describe() { return "Reference: 1 thread, scalar, double accumulation"; }

    @Override public DType computeType() { return DType.F32; }

    @Override
    public Tensor upload(Tensor host) {
        return Checks.hostF32Copy("upload", host, true);
    }

    @Override
    public Tensor download(Tensor t) {
        return Checks.hostF32Copy("download", t, false);
    }

    @Override public Tensor zeros(int... shape) { return Tensor.allocate(DType.F32, shape); }

    // ---------------------------------------------------------------- weights

    /** Weights kept as PyTorch lays them out: [O][I][kh][kw], widened to float. */
    record ConvW(int o, int i, int kh, int kw, float[] w, float[] bias) implements Conv2dWeights {
        @Override public int outChannels() { return o; }
        @Override public int inChannels() { return i; }
        @Override public int kernelH() { return kh; }
        @Override public int kernelW() { return kw; }
        @Override public boolean hasBias() { return bias != null; }
        @Override public void close() {}
    }

    /** [out][in], widened to float. */
    record LinearW(int out, int in, float[] w, float[] bias) implements LinearWeights {
        @Override public int inFeatures() { return in; }
        @Override public int outFeatures() { return out; }
        @Override public boolean hasBias() { return bias != null; }
        @Override public void close() {}
    }

    @Override
    public Conv2dWeights prepareConv2d(Tensor weight, Tensor bias) {
        Checks.require(weight != null && weight.rank() == 4, "prepareConv2d", "weight must be [O, I, kh, kw], got", weight == null ? null : weight.shape());
        float[] b = bias == null ? null : bias.toFloatArray();
        Checks.require(b == null || b.length == weight.dim(0), "prepareConv2d", "bias does not match", weight.shape(), bias == null ? null : bias.shape());
        return new ConvW(weight.dim(0), weight.dim(1), weight.dim(2), weight.dim(3), weight.toFloatArray(), b);
    }

    @Override
    public LinearWeights prepareLinear(Tensor weight, Tensor bias) {
        Checks.require(weight != null && weight.rank() == 2, "prepareLinear", "weight must be [out, in], got", weight == null ? null : weight.shape());
        float[] b = bias == null ? null : bias.toFloatArray();
        Checks.require(b == null || b.length == weight.dim(0), "prepareLinear", "bias does not match", weight.shape(), bias == null ? null : bias.shape());
        return new LinearW(weight.dim(0), weight.dim(1), weight.toFloatArray(), b);
    }

    @Override
    public Tensor prepareParameter(Tensor host) {
        Checks.require(host != null && host.isHost() && host.dtype().isFloating(), "prepareParameter", "expected a floating host tensor, got", host);
        return host.toF32();
    }

    // ---------------------------------------------------------------- ops

    @Override
    public Tensor conv2d(Tensor xt, Conv2dWeights weights, int stride, Padding pad) {
        Checks.require(weights instanceof ConvW, "conv2d", "weights were not prepared by ReferenceBackend:", weights);
        ConvW w = (ConvW) weights;
        Checks.checkConv("conv2d", xt, w.i, w.kh, w.kw, stride, pad);
        int n = xt.dim(0), h = xt.dim(1), wd = xt.dim(2), ci = w.i, co = w.o;
        int oh = pad.outSize(h, w.kh, stride, true), ow = pad.outSize(wd, w.kw, stride, false);
        float[] x = xt.toFloatArray(), y = new float[n * oh * ow * co];
        for (int b = 0; b < n; b++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                    for (int o = 0; o < co; o++) {
                        double acc = w.bias == null ? 0 : w.bias[o];
                        for (int ky = 0; ky < w.kh; ky++)
                            for (int kx = 0; kx < w.kw; kx++) {
                                int iy = oy * stride - pad.top() + ky, ix = ox * stride - pad.left() + kx;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue; // zero padding
                                for (int c = 0; c < ci; c++)
                                    acc += (double) x[((b * h + iy) * wd + ix) * ci + c] * w.w[((o * ci + c) * w.kh + ky) * w.kw + kx];
                            }
                        y[((b * oh + oy) * ow + ox) * co + o] = (float) acc;
                    }
        return Tensor.of(y, n, oh, ow, co);
    }

    @Override
    public Tensor linear(Tensor xt, LinearWeights weights) {
        Checks.require(weights instanceof LinearW, "linear", "weights were not prepared by ReferenceBackend:", weights);
        LinearW w = (LinearW) weights;
        Checks.f32("linear", "x", xt);
        Checks.require(xt.dim(-1) == w.in, "linear", "x's last dim must be " + w.in + ", got", xt.shape());
        float[] x = xt.toFloatArray();
        int rows = (int) Checks.rows(xt);
        float[] y = new float[rows * w.out];
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < w.out; o++) {
                double acc = w.bias == null ? 0 : w.bias[o];
                for (int k = 0; k < w.in; k++) acc += (double) x[r * w.in + k] * w.w[o * w.in + k];
                y[r * w.out + o] = (float) acc;
            }
        return Tensor.of(y, Checks.withLast(xt.shape(), w.out));
    }

    @Override
    public Tensor groupNorm(Tensor xt, int groups, Tensor gammaT, Tensor betaT, float eps, boolean silu) {
        Checks.checkGroupNorm("groupNorm", xt, groups, gammaT, betaT);
        float[] x = xt.toFloatArray(), gamma = gammaT.toFloatArray(), beta = betaT.toFloatArray(), y = new float[x.length];
        int n = xt.dim(0), c = xt.dim(-1), cg = c / groups;
        int p = x.length / (n * c);
        for (int b = 0; b < n; b++)
            for (int g = 0; g < groups; g++) {
                double sum = 0;
                for (int pos = 0; pos < p; pos++)
                    for (int j = 0; j < cg; j++) sum += x[(b * p + pos) * c + g * cg + j];
                double mean = sum / ((double) p * cg);
                double sq = 0;
                for (int pos = 0; pos < p; pos++)
                    for (int j = 0; j < cg; j++) {
                        double d = x[(b * p + pos) * c + g * cg + j] - mean;
                        sq += d * d;
                    }
                double rstd = 1 / Math.sqrt(sq / ((double) p * cg) + eps);
                for (int pos = 0; pos < p; pos++)
                    for (int j = 0; j < cg; j++) {
                        int i = (b * p + pos) * c + g * cg + j;
                        double v = (x[i] - mean) * rstd * gamma[g * cg + j] + beta[g * cg + j];
                        y[i] = (float) (silu ? silu(v) : v);
                    }
            }
        return Tensor.of(y, xt.shape());
    }

    @Override
    public Tensor layerNorm(Tensor xt, Tensor gammaT, Tensor betaT, float eps) {
        Checks.checkLayerNorm("layerNorm", xt, gammaT, betaT);
        float[] x = xt.toFloatArray(), gamma = gammaT.toFloatArray(), beta = betaT.toFloatArray(), y = new float[x.length];
        int c = xt.dim(-1), rows = x.length / c;
        for (int r = 0; r < rows; r++) {
            double sum = 0, sq = 0;
            for (int j = 0; j < c; j++) sum += x[r * c + j];
            double mean = sum / c;
            for (int j = 0; j < c; j++) sq += (x[r * c + j] - mean) * (x[r * c + j] - mean);
            double rstd = 1 / Math.sqrt(sq / c + eps);
            for (int j = 0; j < c; j++) y[r * c + j] = (float) ((x[r * c + j] - mean) * rstd * gamma[j] + beta[j]);
        }
        return Tensor.of(y, xt.shape());
    }

    private static double silu(double v) { return v / (1 + Math.exp(-v)); }

    @Override
    public Tensor silu(Tensor xt) {
        Checks.f32("silu", "x", xt);
        float[] x = xt.toFloatArray();
        for (int i = 0; i < x.length; i++) x[i] = (float) silu(x[i]);
        return Tensor.of(x, xt.shape());
    }

    @Override
    public Tensor gelu(Tensor xt) {
        Checks.f32("gelu", "x", xt);
        float[] x = xt.toFloatArray();
        for (int i = 0; i < x.length; i++) x[i] = (float) CpuMath.geluRef(x[i]);
        return Tensor.of(x, xt.shape());
    }

    @Override
    public Tensor geglu(Tensor xt) {
        Checks.f32("geglu", "x", xt);
        Checks.require(xt.dim(-1) % 2 == 0, "geglu", "last dim must be even, got", xt.shape());
        float[] x = xt.toFloatArray();
        int f = xt.dim(-1) / 2, rows = x.length / (2 * f);
        float[] y = new float[rows * f];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < f; j++) y[r * f + j] = (float) (x[r * 2 * f + j] * CpuMath.geluRef(x[r * 2 * f + f + j]));
        return Tensor.of(y, Checks.withLast(xt.shape(), f));
    }

    @Override
    public Tensor attention(Tensor qt, Tensor kt, Tensor vt, int heads, float scale, boolean causal) {
        Checks.checkAttention("attention", qt, kt, vt, heads);
        float[] q = qt.toFloatArray(), k = kt.toFloatArray(), v = vt.toFloatArray();
        int n = qt.dim(0), lq = qt.dim(1), lk = kt.dim(1), d = qt.dim(2) / heads, dv = vt.dim(2) / heads;
        int qc = heads * d, vc = heads * dv;
        float[] out = new float[n * lq * vc];
        double[] p = new double[lk];
        for (int b = 0; b < n; b++)
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < lq; i++) {
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < lk; j++) {
                        if (causal && j > i) {
                            p[j] = Double.NEGATIVE_INFINITY;
                            continue;
                        }
                        double s = 0;
                        for (int c = 0; c < d; c++) s += (double) q[(b * lq + i) * qc + h * d + c] * k[(b * lk + j) * qc + h * d + c];
                        p[j] = s * scale;
                        max = Math.max(max, p[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < lk; j++) {
                        p[j] = p[j] == Double.NEGATIVE_INFINITY ? 0 : Math.exp(p[j] - max);
                        sum += p[j];
                    }
                    for (int c = 0; c < dv; c++) {
                        double acc = 0;
                        for (int j = 0; j < lk; j++) acc += p[j] * v[(b * lk + j) * vc + h * dv + c];
                        out[(b * lq + i) * vc + h * dv + c] = (float) (sum > 0 ? acc / sum : 0);
                    }
                }
        return Tensor.of(out, n, lq, vc);
    }

    @Override
    public Tensor upsampleNearest(Tensor xt, int outH, int outW) {
        Checks.checkUpsample("upsampleNearest", xt, outH, outW);
        float[] x = xt.toFloatArray();
        int n = xt.dim(0), h = xt.dim(1), w = xt.dim(2), c = xt.dim(3);
        float[] y = new float[n * outH * outW * c];
        for (int b = 0; b < n; b++)
            for (int oy = 0; oy < outH; oy++)
                for (int ox = 0; ox < outW; ox++) {
                    int iy = CpuMath.nearestSource(oy, h, outH), ix = CpuMath.nearestSource(ox, w, outW);
                    for (int ch = 0; ch < c; ch++) y[((b * outH + oy) * outW + ox) * c + ch] = x[((b * h + iy) * w + ix) * c + ch];
                }
        return Tensor.of(y, n, outH, outW, c);
    }

    @Override
    public Tensor timestepEmbedding(float[] timesteps, int dim, boolean flipSinToCos, float freqShift) {
        Checks.checkTimestep("timestepEmbedding", timesteps, dim);
        // defined in float32 arithmetic by diffusers, so the oracle and the fast path share one implementation
        return Tensor.of(CpuMath.timestepEmbedding(timesteps, dim, flipSinToCos, freqShift), timesteps.length, dim);
    }

    @Override
    public Tensor embedding(Tensor table, int[] ids) {
        Checks.checkEmbedding("embedding", table, ids);
        float[] t = table.toFloatArray();
        int c = table.dim(1);
        float[] y = new float[ids.length * c];
        for (int i = 0; i < ids.length; i++) System.arraycopy(t, ids[i] * c, y, i * c, c);
        return Tensor.of(y, 1, ids.length, c);
    }

    @Override
    public Tensor concatChannels(Tensor at, Tensor bt) {
        Checks.checkConcat("concatChannels", at, bt);
        float[] a = at.toFloatArray(), b = bt.toFloatArray();
        int ca = at.dim(-1), cb = bt.dim(-1), rows = (int) Checks.rows(at);
        float[] y = new float[rows * (ca + cb)];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < ca; j++) y[r * (ca + cb) + j] = a[r * ca + j];
            for (int j = 0; j < cb; j++) y[r * (ca + cb) + ca + j] = b[r * cb + j];
        }
        return Tensor.of(y, Checks.withLast(at.shape(), ca + cb));
    }

    @Override
    public Tensor sliceChannels(Tensor xt, int start, int count) {
        Checks.checkSlice("sliceChannels", xt, start, count);
        float[] x = xt.toFloatArray();
        int c = xt.dim(-1), rows = (int) Checks.rows(xt);
        float[] y = new float[rows * count];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < count; j++) y[r * count + j] = x[r * c + start + j];
        return Tensor.of(y, Checks.withLast(xt.shape(), count));
    }

    @Override
    public Tensor add(Tensor a, Tensor b) {
        Checks.f32("add", "a", a);
        Checks.f32("add", "b", b);
        Checks.sameShape("add", a, b);
        float[] x = a.toFloatArray(), y = b.toFloatArray();
        for (int i = 0; i < x.length; i++) x[i] += y[i];
        return Tensor.of(x, a.shape());
    }

    @Override
    public Tensor addInPlace(Tensor a, Tensor b) {
        Checks.f32("addInPlace", "a", a);
        Checks.f32("addInPlace", "b", b);
        Checks.sameShape("addInPlace", a, b);
        for (long i = 0; i < a.numel(); i++) a.setFloat(i, a.getFloat(i) + b.getFloat(i));
        return a;
    }

    @Override
    public Tensor addPerChannel(Tensor xt, Tensor vt) {
        Checks.checkAddPerChannel("addPerChannel", xt, vt);
        float[] x = xt.toFloatArray(), v = vt.toFloatArray();
        int n = xt.dim(0), c = xt.dim(-1), p = x.length / (n * c);
        for (int b = 0; b < n; b++)
            for (int pos = 0; pos < p; pos++)
                for (int j = 0; j < c; j++) x[(b * p + pos) * c + j] += v[b * c + j];
        return Tensor.of(x, xt.shape());
    }

    @Override
    public Tensor axpby(float alpha, Tensor xt, float beta, Tensor yt) {
        Checks.f32("axpby", "x", xt);
        if (yt != null) {
            Checks.f32("axpby", "y", yt);
            Checks.sameShape("axpby", xt, yt);
        }
        float[] x = xt.toFloatArray(), y = yt == null ? null : yt.toFloatArray();
        for (int i = 0; i < x.length; i++) x[i] = (float) (alpha * (double) x[i] + (y == null ? 0 : beta * (double) y[i]));
        return Tensor.of(x, xt.shape());
    }

    @Override
    public void close() {}
}
