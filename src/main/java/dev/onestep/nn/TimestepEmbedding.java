package dev.onestep.nn;

import dev.onestep.backend.Backend;
import dev.onestep.model.WeightResolver;
import dev.onestep.tensor.Tensor;

/** diffusers TimestepEmbedding: linear_1 → SiLU → linear_2. */
public final class TimestepEmbedding {
    private final Backend backend;
    private final Linear linear1, linear2;

    public TimestepEmbedding(WeightResolver w, int in, int dim) {
        this.backend = w.backend();
        this.linear1 = new Linear(w, "linear_1", in, dim, true);
        this.linear2 = new Linear(w, "linear_2", dim, dim, true);
    }

    public Tensor forward(Tensor t) {
        Tensor a;
        try (Tensor h = linear1.forward(t)) {  // [N, dim]
            a = backend.silu(h);
        }
        try (a) {
            return linear2.forward(a);         // [N, dim]
        }
    }
}
