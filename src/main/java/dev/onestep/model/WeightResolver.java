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
    private final WeightSource source;
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
        this(source, backend, "", new State());
    }

    private WeightResolver(WeightSource source, Backend backend, String prefix, State state) {
        this.source = source;
        this.backend = backend;
        this.prefix = prefix;
        this.state = state;
    }

    public Backend backend() { return backend; }

    /** A resolver for a sub-module: child("down_blocks.0") resolves "down_blocks.0.*". */
    public WeightResolver child(String name) {
        return new WeightResolver(source, backend, prefix + name + ".", state);
    }

    /** Whether the (prefixed) tensor exists, e.g. an optional conv_shortcut. */
    public boolean has(String name) { return source.info(prefix + name) != null; }

    /** The host view of a tensor with the expected shape, or null (problem recorded). */
    public Tensor raw(String name, int... shape) {
        String key = prefix + name;
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
        Tensor w = raw(name + ".weight", out, in, k, k);
        Tensor b = bias ? raw(name + ".bias", out) : null;
        if (w == null || (bias && b == null)) return null;
        return track(backend.prepareConv2d(w, b));
    }

    /** name.weight [out, in] and, when {@code bias}, name.bias [out]. */
    public LinearWeights linear(String name, int out, int in, boolean bias) {
        Tensor w = raw(name + ".weight", out, in);
        Tensor b = bias ? raw(name + ".bias", out) : null;
        if (w == null || (bias && b == null)) return null;
        return track(backend.prepareLinear(w, b));
    }

    /** A 1×1 convolution's weight [out, in, 1, 1] loaded as a linear layer over channels (NHWC makes them the same). */
    public LinearWeights conv1x1AsLinear(String name, int out, int in, boolean bias) {
        Tensor w = raw(name + ".weight", out, in, 1, 1);
        Tensor b = bias ? raw(name + ".bias", out) : null;
        if (w == null || (bias && b == null)) return null;
        return track(backend.prepareLinear(w.reshape(out, in), b));
    }

    /** A parameter (norm gamma/beta, embedding table) on the backend. */
    public Tensor param(String name, int... shape) {
        Tensor t = raw(name, shape);
        return t == null ? null : track(backend.prepareParameter(t));
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
}
