package dev.onestep.model;

import dev.onestep.backend.OpOutput;
import dev.onestep.tensor.Tensor;

/**
 * Receives intermediate activations during a forward pass, named as the reference's module paths
 * ("down_blocks.0", "decoder.mid_block", "text_model.encoder.layers.1"). Used by --dump and the fixture tests;
 * the tensor is only valid during the call (copy it out).
 */
@FunctionalInterface
public interface ActivationHook {
    ActivationHook NONE = (name, t) -> {};

    void record(String name, Tensor activation);

    /**
     * Records {@code t}, which the caller owns, and returns it; if recording fails (a dump's download or write), {@code t}
     * is closed before the failure propagates, so a failed dump leaks nothing.
     */
    default Tensor recordOwned(String name, Tensor t) {
        if (active()) OpOutput.fill(t, () -> record(name, t));
        return t;
    }

    /** False for {@link #NONE}: lets a forward pass skip work done only for recording (unfused norms). */
    default boolean active() { return this != NONE; }

    /** This hook with every name prefixed ("unet/" + name), for dumping several networks into one folder. */
    default ActivationHook prefixed(String prefix) {
        if (!active()) return this;
        ActivationHook self = this;
        return (name, t) -> self.record(prefix + name, t);
    }
}
