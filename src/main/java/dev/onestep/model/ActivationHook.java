package dev.onestep.model;

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

    /** False for {@link #NONE}: lets a forward pass skip work done only for recording (unfused norms). */
    default boolean active() { return this != NONE; }

    /** This hook with every name prefixed ("unet/" + name), for dumping several networks into one folder. */
    default ActivationHook prefixed(String prefix) {
        if (!active()) return this;
        ActivationHook self = this;
        return (name, t) -> self.record(prefix + name, t);
    }
}
