package dev.onestep.backend;

import dev.onestep.tensor.Tensor;

import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;

/**
 * A Backend decorator that times every op while {@link #recording}, keyed by op and shape ("conv2d k3 s1
 * 96x96x320→320"), with the inner backend's {@link OpTimer}: wall clock on the CPU, CUDA events on a GPU (so the
 * times are the device's, gathered at each {@link #synchronize}). {@code onestep bench --profile} prints the table;
 * it is how a GPU run says where its milliseconds go, op by op, beside the roofline model (docs/PERF.md).
 */
public final class ProfilingBackend extends ForwardingBackend {
    private final OpTimer timer;
    private final Map<String, double[]> table = new TreeMap<>(); // key → {calls, ms}
    private boolean recording;

    public ProfilingBackend(Backend inner) {
        super(inner);
        this.timer = inner.opTimer();
    }

    /** Starts or stops timing (ops outside a recording run untimed). */
    public void recording(boolean on) {
        if (!on) drain();
        recording = on;
    }

    /** Forgets what was recorded. */
    public void clear() {
        drain();
        table.clear();
    }

    /** key → {calls, total ms} recorded so far (waits for pending device work). */
    public Map<String, double[]> table() {
        drain();
        Map<String, double[]> copy = new TreeMap<>();
        table.forEach((k, v) -> copy.put(k, v.clone()));
        return copy;
    }

    private void drain() { timer.drainInto(table); }

    private <T> T time(String key, Supplier<T> op) {
        if (!recording) return op.get();
        long mark = timer.start();
        T out = op.get();
        timer.stop(mark, key);
        return out;
    }

    private static String s(int... shape) {
        return String.join("x", Arrays.stream(shape).mapToObj(Integer::toString).toList());
    }

    private static String conv(String op, Tensor x, Conv2dWeights w, int stride) {
        return op + " k" + w.kernelH() + " s" + stride + " " + s(x.shape()) + "→" + w.outChannels();
    }

    @Override
    public void synchronize() {
        inner.synchronize();
        drain();
    }

    @Override public Tensor upload(Tensor host) { return time("upload " + s(host.shape()), () -> inner.upload(host)); }
    @Override public Tensor download(Tensor t) { return time("download " + s(t.shape()), () -> inner.download(t)); }
    @Override public Tensor zeros(int... shape) { return time("zeros " + s(shape), () -> inner.zeros(shape)); }

    @Override
    public Tensor conv2d(Tensor x, Conv2dWeights w, int stride, Padding pad) {
        return time(conv("conv2d", x, w, stride), () -> inner.conv2d(x, w, stride, pad));
    }

    @Override
    public Tensor conv2dAdd(Tensor x, Conv2dWeights w, int stride, Padding pad, Tensor residual) {
        return time(conv("conv2d+add", x, w, stride), () -> inner.conv2dAdd(x, w, stride, pad, residual));
    }

    @Override
    public Tensor upsampleNearestConv2d(Tensor x, int outH, int outW, Conv2dWeights w, int stride, Padding pad) {
        return time(conv("upsample+conv2d", x, w, stride), () -> inner.upsampleNearestConv2d(x, outH, outW, w, stride, pad));
    }

    @Override
    public Tensor linear(Tensor x, LinearWeights w) {
        return time("linear " + (x.numel() / w.inFeatures()) + "x" + w.inFeatures() + "→" + w.outFeatures(), () -> inner.linear(x, w));
    }

    @Override
    public Tensor attention(Tensor q, Tensor k, Tensor v, int heads, float scale, boolean causal) {
        String key = String.format(Locale.ROOT, "attention Lq=%d Lk=%d heads=%d d=%d%s", q.dim(1), k.dim(1), heads, q.dim(2) / heads, causal ? " causal" : "");
        return time(key, () -> inner.attention(q, k, v, heads, scale, causal));
    }

    @Override
    public Tensor groupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, boolean silu) {
        return time((silu ? "groupNorm+silu " : "groupNorm ") + s(x.shape()), () -> inner.groupNorm(x, groups, gamma, beta, eps, silu));
    }

    @Override public Tensor layerNorm(Tensor x, Tensor g, Tensor b, float eps) { return time("layerNorm " + s(x.shape()), () -> inner.layerNorm(x, g, b, eps)); }
    @Override public Tensor silu(Tensor x) { return time("silu " + s(x.shape()), () -> inner.silu(x)); }
    @Override public Tensor gelu(Tensor x) { return time("gelu " + s(x.shape()), () -> inner.gelu(x)); }
    @Override public Tensor geglu(Tensor x) { return time("geglu " + s(x.shape()), () -> inner.geglu(x)); }

    @Override
    public Tensor upsampleNearest(Tensor x, int outH, int outW) {
        return time("upsampleNearest " + s(x.shape()) + "→" + outH + "x" + outW, () -> inner.upsampleNearest(x, outH, outW));
    }

    @Override
    public Tensor timestepEmbedding(float[] t, int dim, boolean flip, float shift) {
        return time("timestepEmbedding " + t.length + "x" + dim, () -> inner.timestepEmbedding(t, dim, flip, shift));
    }

    @Override public Tensor embedding(Tensor table, int[] ids) { return time("embedding " + ids.length, () -> inner.embedding(table, ids)); }
    @Override public Tensor concatChannels(Tensor a, Tensor b) { return time("concatChannels " + s(a.shape()) + "+" + b.dim(-1), () -> inner.concatChannels(a, b)); }
    @Override public Tensor sliceChannels(Tensor x, int start, int n) { return time("sliceChannels " + s(x.shape()) + "→" + n, () -> inner.sliceChannels(x, start, n)); }
    @Override public Tensor add(Tensor a, Tensor b) { return time("add " + s(a.shape()), () -> inner.add(a, b)); }
    @Override public Tensor addInPlace(Tensor a, Tensor b) { return time("addInPlace " + s(a.shape()), () -> inner.addInPlace(a, b)); }
    @Override public Tensor addPerChannel(Tensor x, Tensor v) { return time("addPerChannel " + s(x.shape()), () -> inner.addPerChannel(x, v)); }

    @Override
    public Tensor axpby(float alpha, Tensor x, float beta, Tensor y) {
        return time("axpby " + s(x.shape()), () -> inner.axpby(alpha, x, beta, y));
    }

    /** Stops timing for good and frees the timer's resources (device events), leaving the inner backend open. */
    public void release() {
        recording = false;
        timer.close();
    }

    @Override
    public void close() {
        try {
            release();
        } finally {
            inner.close();
        }
    }

    /**
     * The table as text: per op (the key's first word) and then the {@code top} costliest keys, each as ms per pass
     * ({@code passes} recorded passes), calls per pass and share of the recorded time.
     */
    public static String format(Map<String, double[]> table, int passes, int top) {
        double total = table.values().stream().mapToDouble(v -> v[1]).sum();
        Map<String, double[]> byOp = new LinkedHashMap<>();
        table.forEach((k, v) -> OpTimer.add(byOp, k.split(" ", 2)[0], v[0], v[1]));
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "op time, %.2f ms per pass over %d pass%s (%d op calls per pass)%n",
                total / passes, passes, passes == 1 ? "" : "es", Math.round(table.values().stream().mapToDouble(v -> v[0]).sum() / passes)));
        sb.append(String.format(Locale.ROOT, "%10s %6s %8s  %s%n", "ms/pass", "%", "calls", "op"));
        appendRows(sb, byOp, passes, total, byOp.size());
        sb.append(String.format(Locale.ROOT, "%10s %6s %8s  %s%n", "ms/pass", "%", "calls", "op and shape (the " + Math.min(top, table.size()) + " costliest)"));
        appendRows(sb, table, passes, total, top);
        return sb.toString();
    }

    private static void appendRows(StringBuilder sb, Map<String, double[]> rows, int passes, double total, int limit) {
        List<Map.Entry<String, double[]>> sorted = rows.entrySet().stream()
                .sorted(Comparator.comparingDouble((Map.Entry<String, double[]> e) -> -e.getValue()[1])).limit(limit).toList();
        for (Map.Entry<String, double[]> e : sorted)
            sb.append(String.format(Locale.ROOT, "%10.3f %5.1f%% %8.1f  %s%n", e.getValue()[1] / passes, 100 * e.getValue()[1] / Math.max(1e-12, total),
                    e.getValue()[0] / passes, e.getKey()));
    }
}
