package dev.onestep.model.unet;

import dev.onestep.model.WeightResolver;
import dev.onestep.nn.ResnetBlock2D;
import dev.onestep.nn.Transformer2DModel;
import dev.onestep.tensor.Tensor;

/** diffusers UNetMidBlock2DCrossAttn: resnets.0, then (attentions.i, resnets.i+1) pairs. */
final class MidBlock2DCrossAttn {
    private final ResnetBlock2D[] resnets;
    private final Transformer2DModel[] attentions;

    MidBlock2DCrossAttn(WeightResolver w, BlockSpec s, int layers, float outputScaleFactor) {
        resnets = new ResnetBlock2D[layers + 1];
        attentions = new Transformer2DModel[layers];
        resnets[0] = new ResnetBlock2D(w.child("resnets.0"), s.in(), s.in(), s.tembChannels(), s.groups(), s.eps(), outputScaleFactor);
        for (int i = 0; i < layers; i++) {
            attentions[i] = s.transformer(w.child("attentions." + i));
            resnets[i + 1] = new ResnetBlock2D(w.child("resnets." + (i + 1)), s.in(), s.in(), s.tembChannels(), s.groups(), s.eps(), outputScaleFactor);
        }
    }

    /** x [N, H, W, C] (not consumed) → [N, H, W, C]. */
    Tensor forward(Tensor x, Tensor tembAct, Tensor context) {
        Tensor h = resnets[0].forward(x, tembAct);                        // [N, H, W, C]
        for (int i = 0; i < attentions.length; i++) {
            try (Tensor old = h) {
                h = attentions[i].forward(old, context);                  // [N, H, W, C]
            }
            try (Tensor old = h) {
                h = resnets[i + 1].forward(old, tembAct);                 // [N, H, W, C]
            }
        }
        return h;
    }
}
