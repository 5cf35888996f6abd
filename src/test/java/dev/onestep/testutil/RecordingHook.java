package dev.onestep.testutil;

import dev.onestep.backend.Backend;
import dev.onestep.model.ActivationHook;
import dev.onestep.tensor.Layouts;
import dev.onestep.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.Map;

/** Captures activations as host NCHW float arrays (the fixtures' layout), keyed by name. */
public final class RecordingHook implements ActivationHook {
    private final Backend backend;
    public final Map<String, float[]> values = new LinkedHashMap<>();
    public final Map<String, int[]> shapes = new LinkedHashMap<>();

    public RecordingHook(Backend backend) { this.backend = backend; }

    @Override
    public void record(String name, Tensor activation) {
        try (Tensor host = backend.download(activation); Tensor nchw = Layouts.toNchw(host)) {
            values.put(name, nchw.toFloatArray());
            shapes.put(name, nchw.shape());
        }
    }
}
