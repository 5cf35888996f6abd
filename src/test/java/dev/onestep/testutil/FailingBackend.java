package dev.onestep.testutil;

import dev.onestep.backend.Backend;
import dev.onestep.backend.Conv2dWeights;
import dev.onestep.backend.ForwardingBackend;
import dev.onestep.backend.LinearWeights;
import dev.onestep.backend.Padding;
import dev.onestep.tensor.Tensor;

import java.util.function.Supplier;

/**
 * A backend whose op number {@link #failAt} (counting every activation op from 1, {@link #reset} restarts the count)
 * throws {@link Injected} instead of running: the leak test for every layer's error path. With failAt 0 nothing
 * fails and {@link #count()} says how many ops a pass ran.
 */
public final class FailingBackend extends ForwardingBackend {
    /** The injected failure. */
    public static final class Injected extends RuntimeException {
        Injected(String op, int n) { super("injected failure in op " + n + " (" + op + ")"); }
    }

    private int count, failAt;

    public FailingBackend(Backend inner) { super(inner); }

    /** Fails op number {@code n} (1-based) of the next ops; 0: none. Restarts the count. */
    public FailingBackend failAt(int n) {
        this.failAt = n;
        this.count = 0;
        return this;
    }

    public void reset() { failAt(0); }

    public int count() { return count; }

    private <T> T op(String name, Supplier<T> call) {
        if (++count == failAt) throw new Injected(name, count);
        return call.get();
    }

    @Override public Tensor upload(Tensor host) { return op("upload", () -> inner.upload(host)); }
    @Override public Tensor download(Tensor t) { return op("download", () -> inner.download(t)); }
    @Override public Tensor zeros(int... shape) { return op("zeros", () -> inner.zeros(shape)); }
    @Override public Tensor conv2d(Tensor x, Conv2dWeights w, int stride, Padding pad) { return op("conv2d", () -> inner.conv2d(x, w, stride, pad)); }
    @Override public Tensor conv2dAdd(Tensor x, Conv2dWeights w, int stride, Padding pad, Tensor r) { return op("conv2dAdd", () -> inner.conv2dAdd(x, w, stride, pad, r)); }
    @Override public Tensor upsampleNearestConv2d(Tensor x, int oh, int ow, Conv2dWeights w, int stride, Padding pad) {
        return op("upsampleNearestConv2d", () -> inner.upsampleNearestConv2d(x, oh, ow, w, stride, pad));
    }
    @Override public Tensor linear(Tensor x, LinearWeights w) { return op("linear", () -> inner.linear(x, w)); }
    @Override public Tensor attention(Tensor q, Tensor k, Tensor v, int heads, float scale, boolean causal) {
        return op("attention", () -> inner.attention(q, k, v, heads, scale, causal));
    }
    @Override public Tensor groupNorm(Tensor x, int groups, Tensor g, Tensor b, float eps, boolean silu) { return op("groupNorm", () -> inner.groupNorm(x, groups, g, b, eps, silu)); }
    @Override public Tensor layerNorm(Tensor x, Tensor g, Tensor b, float eps) { return op("layerNorm", () -> inner.layerNorm(x, g, b, eps)); }
    @Override public Tensor silu(Tensor x) { return op("silu", () -> inner.silu(x)); }
    @Override public Tensor gelu(Tensor x) { return op("gelu", () -> inner.gelu(x)); }
    @Override public Tensor geglu(Tensor x) { return op("geglu", () -> inner.geglu(x)); }
    @Override public Tensor upsampleNearest(Tensor x, int oh, int ow) { return op("upsampleNearest", () -> inner.upsampleNearest(x, oh, ow)); }
    @Override public Tensor timestepEmbedding(float[] t, int dim, boolean flip, float shift) { return op("timestepEmbedding", () -> inner.timestepEmbedding(t, dim, flip, shift)); }
    @Override public Tensor embedding(Tensor table, int[] ids) { return op("embedding", () -> inner.embedding(table, ids)); }
    @Override public Tensor concatChannels(Tensor a, Tensor b) { return op("concatChannels", () -> inner.concatChannels(a, b)); }
    @Override public Tensor sliceChannels(Tensor x, int start, int n) { return op("sliceChannels", () -> inner.sliceChannels(x, start, n)); }
    @Override public Tensor add(Tensor a, Tensor b) { return op("add", () -> inner.add(a, b)); }
    @Override public Tensor addInPlace(Tensor a, Tensor b) { return op("addInPlace", () -> inner.addInPlace(a, b)); }
    @Override public Tensor addPerChannel(Tensor x, Tensor v) { return op("addPerChannel", () -> inner.addPerChannel(x, v)); }
    @Override public Tensor axpby(float a, Tensor x, float b, Tensor y) { return op("axpby", () -> inner.axpby(a, x, b, y)); }
}
