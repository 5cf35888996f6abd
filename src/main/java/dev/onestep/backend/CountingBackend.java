package dev.onestep.backend;

import dev.onestep.tensor.Tensor;

/**
 * A Backend decorator that counts the arithmetic of the heavy ops as 2 × multiply-accumulates (convolutions,
 * linears, attention's two matrix products) — the same convention as the work-per-image tables in
 * configs/sd2/README.md — so benchmarks can report achieved FLOP/s. Everything is delegated unchanged
 * ({@link ForwardingBackend}).
 */
public final class CountingBackend extends ForwardingBackend {
    private long flops;

    public CountingBackend(Backend inner) { super(inner); }

    /** FLOPs counted since the last reset. */
    public long flops() { return flops; }

    public void reset() { flops = 0; }

    @Override
    public Tensor conv2d(Tensor x, Conv2dWeights w, int stride, Padding pad) {
        Tensor y = inner.conv2d(x, w, stride, pad);
        flops += 2L * y.numel() * w.inChannels() * w.kernelH() * w.kernelW();
        return y;
    }

    @Override
    public Tensor conv2dAdd(Tensor x, Conv2dWeights w, int stride, Padding pad, Tensor residual) {
        Tensor y = inner.conv2dAdd(x, w, stride, pad, residual);
        flops += 2L * y.numel() * w.inChannels() * w.kernelH() * w.kernelW();
        return y;
    }

    @Override
    public Tensor upsampleNearestConv2d(Tensor x, int outH, int outW, Conv2dWeights w, int stride, Padding pad) {
        Tensor y = inner.upsampleNearestConv2d(x, outH, outW, w, stride, pad);
        flops += 2L * y.numel() * w.inChannels() * w.kernelH() * w.kernelW();
        return y;
    }

    @Override
    public Tensor linear(Tensor x, LinearWeights w) {
        flops += 2L * (x.numel() / w.inFeatures()) * w.inFeatures() * w.outFeatures();
        return inner.linear(x, w);
    }

    @Override
    public Tensor attention(Tensor q, Tensor k, Tensor v, int heads, float scale, boolean causal) {
        long n = q.dim(0), lq = q.dim(1), lk = k.dim(1), dqk = q.dim(2), dv = v.dim(2);
        flops += 2L * n * lq * lk * (dqk + dv); // q·kᵀ and p·v over all heads
        return inner.attention(q, k, v, heads, scale, causal);
    }
}
