package dev.onestep.model.vae;

import dev.onestep.backend.Backend;
import dev.onestep.model.ActivationHook;
import dev.onestep.nn.GroupNorm;
import dev.onestep.tensor.Tensor;

/** Shared pieces of the VAE encoder and decoder. */
final class VaeOps {
    private VaeOps() {}

    /** silu(norm(x)), fused unless a hook wants the norm output on its own (the reference hooks record it pre-SiLU). */
    static Tensor normSilu(Backend backend, GroupNorm norm, Tensor x, ActivationHook hook, String name) {
        if (!hook.active()) return norm.forwardSilu(x);
        try (Tensor normed = norm.forward(x)) {
            hook.record(name, normed);
            return backend.silu(normed);
        }
    }
}
