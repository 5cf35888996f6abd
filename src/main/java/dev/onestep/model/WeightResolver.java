package dev.onestep.model;

import dev.onestep.backend.Backend;
import dev.onestep.backend.Conv2dWeights;
import dev.onestep.backend.LinearWeights;
import dev.onestep.io.TensorInfo;
import dev.onestep.io.WeightSource;
import dev.onestep.io.WeightsException;
import dev.onestep.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Resolves a component's weights into typed layer fields at load time, by their diffusers keys.
 *
 * <p>Layers ask for each tensor with the shape the config implies. Problems are collected instead of thrown at
 * the first one, so {@link #finish()} can report every missing, wrongly-shaped and unexpected tensor in one
 * error. After a problem the request returns null; the half-built model is discarded by finish().
 */
public final class WeightResolver {
    private final WeightSource source;     // null for synthetic weights
    private final Synthetic synthetic;     // null for real weights
    private final Backend backend;
    private final String prefix;
    private final State state;

    private static final class State {
        final Set<String> used = new HashSet<>();
        final List<String> missing = new ArrayList<>();
        final List<String> wrongShape = new ArrayList<>();
        final List<AutoCloseable> prepared = new ArrayList<>();
    }

    public WeightResolver(WeightSource source, Backend backend) {
        this(source, null, backend, "", new State());
    }

    /**
     * Deterministic random weights of whatever shape each layer asks for (for benchmarks and memory work at full
     * size, where real checkpoints are unavailable): PyTorch's default init scale, uniform(±1/√fan_in) for weights,
     * small biases, norm scales near 1; every tensor seeded from {@code seed} and its name, stored as {@code dtype}.
     */
    public static WeightResolver synthetic(Backend backend, long seed, dev.onestep.tensor.DType dtype) {
        return new WeightResolver(null, new Synthetic(seed, dtype), backend, "", new State());
    }

    private WeightResolver(WeightSource source, Synthetic synthetic, Backend backend, String prefix, State state) {
        this.source = source;
        this.synthetic = synthetic;
        this.backend = backend;
        this.prefix = prefix;
        this.state = state;
    }

    /** What the weights come from, for messages. */
    public String description() { return source != null ? source.description() : "synthetic weights"; }

    /**
     * Runs a model constructor against this resolver, then {@link #finish()}; on any failure frees what was prepared
     * and rethrows as one {@link WeightsException} naming the weights and the component.
     */
    public <M> M build(String component, java.util.function.Function<WeightResolver, M> constructor) {
        try {
            M m = constructor.apply(this);
            finish();
            return m;
        } catch (RuntimeException e) {
            release(prepared());
            if (e instanceof WeightsException) throw e;
            throw new WeightsException(description() + ": cannot build the " + component + ": " + e.getMessage(), e);
        }
    }

    public Backend backend() { return backend; }

    /** A resolver for a sub-module: child("down_blocks.0") resolves "down_blocks.0.*". */
    public WeightResolver child(String name) {
        return new WeightResolver(source, synthetic, backend, prefix + name + ".", state);
    }

    /** Whether the (prefixed) tensor exists, e.g. an optional conv_shortcut. */
    public boolean has(String name) { return source == null || source.info(prefix + name) != null; }

    /** The host view of a tensor with the expected shape, or null (problem recorded). */
    public Tensor raw(String name, int... shape) {
        String key = prefix + name;
        if (synthetic != null) return synthetic.tensor(key, shape);
        TensorInfo info = source.info(key);
        if (info == null) {
            state.missing.add(key + " " + Arrays.toString(shape));
            return null;
        }
        state.used.add(key);
        if (!Arrays.equals(info.shape(), shape)) {
            state.wrongShape.add(key + ": " + Arrays.toString(info.shape()) + ", expected " + Arrays.toString(shape));
            return null;
        }
        return source.tensor(key);
    }

    /** name.weight [out, in, k, k] and, when {@code bias}, name.bias [out]. */
    public Conv2dWeights conv(String name, int out, int in, int k, boolean bias) {
        return weightAndBias(name, new int[]{out, in, k, k}, bias, backend::prepareConv2d);
    }

    /** name.weight [out, in] and, when {@code bias}, name.bias [out]. */
    public LinearWeights linear(String name, int out, int in, boolean bias) {
        return weightAndBias(name, new int[]{out, in}, bias, backend::prepareLinear);
    }

    /** A 1×1 convolution's weight [out, in, 1, 1] loaded as a linear layer over channels (NHWC makes them the same). */
    public LinearWeights conv1x1AsLinear(String name, int out, int in, boolean bias) {
        return weightAndBias(name, new int[]{out, in, 1, 1}, bias, (w, b) -> backend.prepareLinear(w.reshape(out, in), b));
    }

    // name.weight of the given shape (+ name.bias [shape[0]]) prepared by the backend, or null after a recorded problem
    private <T extends AutoCloseable> T weightAndBias(String name, int[] shape, boolean bias,
                                                      java.util.function.BiFunction<Tensor, Tensor, T> prepare) {
        Tensor w = raw(name + ".weight", shape);
        Tensor b = bias ? raw(name + ".bias", shape[0]) : null;
        if (w == null || (bias && b == null)) return null;
        try {
            return track(prepare.apply(w, b));
        } finally {
            disposeSynthetic(w, b);
        }
    }

    /** A parameter (norm gamma/beta, embedding table) on the backend. */
    public Tensor param(String name, int... shape) {
        Tensor t = raw(name, shape);
        if (t == null) return null;
        try {
            return track(backend.prepareParameter(t));
        } finally {
            disposeSynthetic(t);
        }
    }

    // synthetic host tensors are generated per request; the backend has copied them once prepared
    private void disposeSynthetic(Tensor... ts) {
        if (synthetic == null) return;
        for (Tensor t : ts) if (t != null) t.close();
    }

    private <T extends AutoCloseable> T track(T prepared) {
        state.prepared.add(prepared);
        return prepared;
    }

    /** Everything prepared on the backend so far, for the model to free on close. */
    public List<AutoCloseable> prepared() { return List.copyOf(state.prepared); }

    /** Frees everything prepared so far (after a failed load, or when the model closes). */
    public static void release(List<AutoCloseable> prepared) {
        for (AutoCloseable c : prepared) {
            try {
                c.close();
            } catch (Exception ignored) {
                // freeing is best effort; the first error of the load is what the user needs
            }
        }
    }

    /**
     * Throws one {@link WeightsException} listing every missing, wrongly-shaped and unexpected tensor; returns
     * normally when the checkpoint matched the config exactly.
     */
    public void finish() {
        if (source == null) return;
        Set<String> unexpected = new TreeSet<>(source.keys());
        unexpected.removeAll(state.used);
        if (state.missing.isEmpty() && state.wrongShape.isEmpty() && unexpected.isEmpty()) return;
        StringBuilder sb = new StringBuilder(source.description()).append(": weights do not match the config");
        appendList(sb, "missing", state.missing);
        appendList(sb, "wrong shape", state.wrongShape);
        appendList(sb, "unexpected", new ArrayList<>(unexpected));
        throw new WeightsException(sb.toString());
    }

    private static void appendList(StringBuilder sb, String what, List<String> items) {
        if (items.isEmpty()) return;
        sb.append("\n  ").append(what).append(" (").append(items.size()).append("):");
        int shown = 0;
        for (String s : items) {
            if (shown++ == 20) {
                sb.append("\n    ... and ").append(items.size() - 20).append(" more");
                break;
            }
            sb.append("\n    ").append(s);
        }
    }

    /** Generates the synthetic tensors, one host tensor per request (freed once the backend has prepared it). */
    private record Synthetic(long seed, dev.onestep.tensor.DType dtype) {
        Tensor tensor(String key, int[] shape) {
            Tensor t = Tensor.allocate(dtype, shape);
            java.util.SplittableRandom r = new java.util.SplittableRandom(seed ^ ((long) key.hashCode() * 0x9E3779B97F4A7C15L));
            long n = t.numel();
            boolean norm = shape.length == 1 && key.matches(".*(norm[^.]*|layer_norm\\d?|group_norm)\\.weight");
            double bound = shape.length >= 2 ? 1.0 / Math.sqrt((double) n / shape[0]) : 0.02;
            java.lang.foreign.MemorySegment seg = t.data();
            for (long i = 0; i < n; i++) {
                float v = (float) (norm ? 1.0 + 0.1 * (r.nextDouble() * 2 - 1) : bound * (r.nextDouble() * 2 - 1));
                switch (dtype) {
                    case F32 -> seg.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, i, v);
                    case F16 -> seg.setAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, i, dev.onestep.tensor.DType.f32ToF16(v));
                    case BF16 -> seg.setAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, i, dev.onestep.tensor.DType.f32ToBf16(v));
                    default -> throw new IllegalArgumentException("synthetic weights in " + dtype);
                }
            }
            return t;
        }
    }
}
