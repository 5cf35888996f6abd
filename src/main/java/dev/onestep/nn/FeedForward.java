package dev.onestep.nn;

import dev.onestep.backend.Backend;
import dev.onestep.model.WeightResolver;
import dev.onestep.tensor.Tensor;

/** diffusers FeedForward with activation "geglu": net.0.proj (dim → 2·inner), GEGLU, net.2 (inner → dim). */
public final class FeedForward {
    private final Backend backend;
    private final Linear proj, out;

    public FeedForward(WeightResolver w, int dim, int inner) {
        this.backend = w.backend();
        this.proj = new Linear(w, "net.0.proj", dim, 2 * inner, true);
        this.out = new Linear(w, "net.2", inner, dim, true);
    }

    public Tensor forward(Tensor x) {
        Tensor gated;
        try (Tensor p = proj.forward(x)) {   // [N, L, 2·inner]
            gated = backend.geglu(p);        // [N, L, inner]
        }
        try (gated) {
            return out.forward(gated);       // [N, L, dim]
        }
    }
}
