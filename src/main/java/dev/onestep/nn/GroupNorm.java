package dev.onestep.nn;

import dev.onestep.backend.Backend;
import dev.onestep.model.WeightResolver;
import dev.onestep.tensor.Tensor;

/** torch.nn.GroupNorm (affine) over channels-last data, optionally fused with the SiLU that follows it. */
public final class GroupNorm {
    private final Backend backend;
    private final Tensor gamma, beta;
    private final int groups;
    private final float eps;

    public GroupNorm(WeightResolver w, String name, int groups, int channels, float eps) {
        if (channels % groups != 0)
            throw new IllegalArgumentException(name + ": " + channels + " channels do not split into " + groups + " groups");
        this.backend = w.backend();
        this.gamma = w.param(name + ".weight", channels);
        this.beta = w.param(name + ".bias", channels);
        this.groups = groups;
        this.eps = eps;
    }

    public Tensor forward(Tensor x) {
        return backend.groupNorm(x, groups, gamma, beta, eps, false); // [N, ..., C] → same
    }

    /** silu(groupNorm(x)) in one pass. */
    public Tensor forwardSilu(Tensor x) {
        return backend.groupNorm(x, groups, gamma, beta, eps, true); // [N, ..., C] → same
    }
}
