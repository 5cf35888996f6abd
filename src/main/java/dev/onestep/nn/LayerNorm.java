package dev.onestep.nn;

import dev.onestep.backend.Backend;
import dev.onestep.model.WeightResolver;
import dev.onestep.tensor.Tensor;

/** torch.nn.LayerNorm over the last dimension (elementwise affine). */
public final class LayerNorm {
    private final Backend backend;
    private final Tensor gamma, beta;
    private final float eps;

    public LayerNorm(WeightResolver w, String name, int dim, float eps) {
        this.backend = w.backend();
        this.gamma = w.param(name + ".weight", dim);
        this.beta = w.param(name + ".bias", dim);
        this.eps = eps;
    }

    public Tensor forward(Tensor x) {
        return backend.layerNorm(x, gamma, beta, eps); // [..., dim] → same
    }
}
