package dev.onestep.nn;

import dev.onestep.backend.Backend;
import dev.onestep.backend.Conv2dWeights;
import dev.onestep.backend.Padding;
import dev.onestep.model.WeightResolver;
import dev.onestep.tensor.Tensor;

/** torch.nn.Conv2d (square kernel, with bias): weight [O, I, k, k], bias [O]. */
public final class Conv2d {
    private final Backend backend;
    private final Conv2dWeights weights;
    private final int stride;
    private final Padding padding;
    public final int in, out;

    public Conv2d(WeightResolver w, String name, int in, int out, int kernel, int stride, Padding padding) {
        this.backend = w.backend();
        this.weights = w.conv(name, out, in, kernel, true);
        this.stride = stride;
        this.padding = padding;
        this.in = in;
        this.out = out;
    }

    /** The common "same" convolution: k×k, stride 1, padding (k − 1) / 2. */
    public static Conv2d same(WeightResolver w, String name, int in, int out, int kernel) {
        return new Conv2d(w, name, in, out, kernel, 1, Padding.same((kernel - 1) / 2));
    }

    /** forward(nearest-upsample(x) to outH × outW), fused where the backend can (no up-sampled tensor). */
    public Tensor forwardUpsampled(Tensor x, int outH, int outW) {
        return backend.upsampleNearestConv2d(x, outH, outW, weights, stride, padding);
    }

    /** forward(x) + residual (same shape as the output), fused where the backend can; residual is not modified. */
    public Tensor forwardAdd(Tensor x, Tensor residual) {
        return backend.conv2dAdd(x, weights, stride, padding, residual); // [N, H, W, in] → [N, H', W', out] + residual
    }

    public Tensor forward(Tensor x) {
        return backend.conv2d(x, weights, stride, padding); // [N, H, W, in] → [N, H', W', out]
    }
}
