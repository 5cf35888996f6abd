package dev.onestep.nn;

import dev.onestep.backend.Backend;
import dev.onestep.model.WeightResolver;
import dev.onestep.tensor.Tensor;

/** diffusers Upsample2D with use_conv: nearest-neighbour resize (2×, or to an explicit size) then a 3×3 conv. */
public final class Upsample2D {
    private final Backend backend;
    private final Conv2d conv;

    public Upsample2D(WeightResolver w, int channels) {
        this.backend = w.backend();
        this.conv = Conv2d.same(w, "conv", channels, channels, 3);
    }

    /** 2× upsampling. */
    public Tensor forward(Tensor x) {
        return forward(x, 2 * x.dim(1), 2 * x.dim(2));
    }

    /** Upsampling to outH × outW (the UNet passes its skip's size when the latent is not a multiple of 8). */
    public Tensor forward(Tensor x, int outH, int outW) {
        return conv.forwardUpsampled(x, outH, outW);              // [N, outH, outW, C], no up-sampled copy on the CPU
    }
}
