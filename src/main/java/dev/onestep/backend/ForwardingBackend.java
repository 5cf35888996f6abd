package dev.onestep.backend;

import dev.onestep.tensor.DType;
import dev.onestep.tensor.Tensor;

/**
 * A Backend that hands every call to another one: the base of decorators (CountingBackend, the benchmarks' op
 * ledgers), which override only the calls they observe. Default methods are forwarded too, so the inner
 * backend's own fused paths (conv2dAdd, upsampleNearestConv2d) still run.
 */
public abstract class ForwardingBackend implements Backend {
    protected final Backend inner;

    protected ForwardingBackend(Backend inner) { this.inner = inner; }

    public Backend inner() { return inner; }

    @Override public String name() { return inner.name(); }
    @Override public String describe() { return inner.describe(); }
    @Override public DType computeType() { return inner.computeType(); }
    @Override public Tensor upload(Tensor host) { return inner.upload(host); }
    @Override public Tensor download(Tensor t) { return inner.download(t); }
    @Override public Tensor zeros(int... shape) { return inner.zeros(shape); }
    @Override public void synchronize() { inner.synchronize(); }
    @Override public long peakMemoryBytes() { return inner.peakMemoryBytes(); }
    @Override public long liveMemoryBytes() { return inner.liveMemoryBytes(); }
    @Override public long peakDeviceMemoryBytes() { return inner.peakDeviceMemoryBytes(); }
    @Override public long deviceMemoryAvailableBytes() { return inner.deviceMemoryAvailableBytes(); }
    @Override public double peakTflops() { return inner.peakTflops(); }
    @Override public OpTimer opTimer() { return inner.opTimer(); }
    @Override public Conv2dWeights prepareConv2d(Tensor weight, Tensor bias) { return inner.prepareConv2d(weight, bias); }
    @Override public LinearWeights prepareLinear(Tensor weight, Tensor bias) { return inner.prepareLinear(weight, bias); }
    @Override public Tensor prepareParameter(Tensor host) { return inner.prepareParameter(host); }
    @Override public Tensor conv2d(Tensor x, Conv2dWeights w, int stride, Padding pad) { return inner.conv2d(x, w, stride, pad); }
    @Override public Tensor conv2dAdd(Tensor x, Conv2dWeights w, int stride, Padding pad, Tensor residual) { return inner.conv2dAdd(x, w, stride, pad, residual); }
    @Override public Tensor upsampleNearestConv2d(Tensor x, int outH, int outW, Conv2dWeights w, int stride, Padding pad) { return inner.upsampleNearestConv2d(x, outH, outW, w, stride, pad); }
    @Override public Tensor linear(Tensor x, LinearWeights w) { return inner.linear(x, w); }
    @Override public Tensor attention(Tensor q, Tensor k, Tensor v, int heads, float scale, boolean causal) { return inner.attention(q, k, v, heads, scale, causal); }
    @Override public Tensor groupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, boolean silu) { return inner.groupNorm(x, groups, gamma, beta, eps, silu); }
    @Override public Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps) { return inner.layerNorm(x, gamma, beta, eps); }
    @Override public Tensor silu(Tensor x) { return inner.silu(x); }
    @Override public Tensor gelu(Tensor x) { return inner.gelu(x); }
    @Override public Tensor geglu(Tensor x) { return inner.geglu(x); }
    @Override public Tensor upsampleNearest(Tensor x, int outH, int outW) { return inner.upsampleNearest(x, outH, outW); }
    @Override public Tensor timestepEmbedding(float[] t, int dim, boolean flip, float shift) { return inner.timestepEmbedding(t, dim, flip, shift); }
    @Override public Tensor embedding(Tensor table, int[] ids) { return inner.embedding(table, ids); }
    @Override public Tensor concatChannels(Tensor a, Tensor b) { return inner.concatChannels(a, b); }
    @Override public Tensor sliceChannels(Tensor x, int start, int count) { return inner.sliceChannels(x, start, count); }
    @Override public Tensor add(Tensor a, Tensor b) { return inner.add(a, b); }
    @Override public Tensor addInPlace(Tensor a, Tensor b) { return inner.addInPlace(a, b); }
    @Override public Tensor addPerChannel(Tensor x, Tensor v) { return inner.addPerChannel(x, v); }
    @Override public Tensor axpby(float alpha, Tensor x, float beta, Tensor y) { return inner.axpby(alpha, x, beta, y); }
    @Override public void close() { inner.close(); }
}
