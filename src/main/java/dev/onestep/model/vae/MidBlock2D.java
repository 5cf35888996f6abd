package dev.onestep.model.vae;

import dev.onestep.model.WeightResolver;
import dev.onestep.nn.Attention;
import dev.onestep.nn.ResnetBlock2D;
import dev.onestep.tensor.Tensor;

/** diffusers UNetMidBlock2D as the VAE uses it: resnet, single-head spatial attention (optional), resnet; eps 1e-6. */
final class MidBlock2D {
    private final ResnetBlock2D resnet0, resnet1;
    private final Attention attention; // null when mid_block_add_attention is false

    MidBlock2D(WeightResolver w, int channels, int groups, boolean addAttention) {
        resnet0 = new ResnetBlock2D(w.child("resnets.0"), channels, channels, 0, groups, 1e-6f, 1f);
        // heads = channels / attention_head_dim with attention_head_dim = channels: one head
        attention = addAttention ? new Attention(w.child("attentions.0"), channels, channels, 1, true, groups, 1e-6f) : null;
        resnet1 = new ResnetBlock2D(w.child("resnets.1"), channels, channels, 0, groups, 1e-6f, 1f);
    }

    /** x [N, H, W, C] (not consumed) → [N, H, W, C]. */
    Tensor forward(Tensor x) {
        Tensor h = resnet0.forward(x, null);                     // [N, H, W, C]
        if (attention != null) {
            try (Tensor old = h) {
                h = attention.forwardSpatialResidual(old);       // [N, H, W, C]
            }
        }
        try (Tensor old = h) {
            return resnet1.forward(old, null);                   // [N, H, W, C]
        }
    }
}
