package dev.onestep.nn;

import dev.onestep.backend.Padding;
import dev.onestep.model.WeightResolver;
import dev.onestep.tensor.Tensor;

/**
 * diffusers Downsample2D with use_conv: a stride-2 3×3 conv. padding = 1 pads every side (UNet);
 * padding = 0 first pads one row/column at the bottom/right (the SD VAE encoder), so odd sizes shrink as
 * floor((n + 1 − 3) / 2) + 1.
 */
public final class Downsample2D {
    private final Conv2d conv;

    public Downsample2D(WeightResolver w, int channels, int padding) {
        Padding pad = padding == 0 ? Padding.BOTTOM_RIGHT : Padding.same(padding);
        this.conv = new Conv2d(w, "conv", channels, channels, 3, 2, pad);
    }

    public Tensor forward(Tensor x) {
        return conv.forward(x); // [N, H, W, C] → [N, H', W', C]
    }
}
