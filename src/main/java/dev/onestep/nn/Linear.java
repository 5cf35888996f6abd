package dev.onestep.nn;

import dev.onestep.backend.Backend;
import dev.onestep.backend.LinearWeights;
import dev.onestep.model.WeightResolver;
import dev.onestep.tensor.Tensor;

/** torch.nn.Linear: weight [out, in], optional bias [out]; y = x·Wᵀ + b over the last dimension. */
public final class Linear {
    private final Backend backend;
    private final LinearWeights weights;

    public Linear(WeightResolver w, String name, int in, int out, boolean bias) {
        this(w.backend(), w.linear(name, out, in, bias));
    }

    private Linear(Backend backend, LinearWeights weights) {
        this.backend = backend;
        this.weights = weights;
    }

    /** A 1×1 Conv2d ([out, in, 1, 1] weight) run as a linear over channels: identical on channels-last data. */
    public static Linear fromConv1x1(WeightResolver w, String name, int in, int out) {
        return new Linear(w.backend(), w.conv1x1AsLinear(name, out, in, true));
    }

    public Tensor forward(Tensor x) {
        return backend.linear(x, weights); // [..., in] → [..., out]
    }
}
