package dev.onestep.model.unet;

import dev.onestep.model.WeightResolver;
import dev.onestep.nn.Downsample2D;
import dev.onestep.nn.ResnetBlock2D;
import dev.onestep.nn.Transformer2DModel;
import dev.onestep.tensor.Tensor;

import java.util.Deque;

/**
 * diffusers CrossAttnDownBlock2D (with attentions) and DownBlock2D (without): resnets, each optionally
 * followed by a Transformer2DModel, then an optional stride-2 downsampler. Every layer's output is kept
 * as a skip connection for the up path.
 */
final class DownBlock2D {
    private final ResnetBlock2D[] resnets;
    private final Transformer2DModel[] attentions; // null for DownBlock2D
    private final Downsample2D downsampler;        // null on the last block

    DownBlock2D(WeightResolver w, BlockSpec s, boolean crossAttention, boolean addDownsample, int downsamplePadding) {
        resnets = new ResnetBlock2D[s.layers()];
        attentions = crossAttention ? new Transformer2DModel[s.layers()] : null;
        for (int i = 0; i < s.layers(); i++) {
            int in = i == 0 ? s.in() : s.out();
            resnets[i] = new ResnetBlock2D(w.child("resnets." + i), in, s.out(), s.tembChannels(), s.groups(), s.eps(), 1f);
            if (crossAttention)
                attentions[i] = s.transformer(w.child("attentions." + i));
        }
        downsampler = addDownsample ? new Downsample2D(w.child("downsamplers.0"), s.out(), downsamplePadding) : null;
    }

    /**
     * @param x       [N, H, W, in] (not consumed)
     * @param tembAct silu(time embedding) [N, T]
     * @param context [N, Lc, D]
     * @param skips   receives (and owns) each layer's output
     * @return [N, H', W', out]: the last tensor added to {@code skips}
     */
    Tensor forward(Tensor x, Tensor tembAct, Tensor context, Deque<Tensor> skips) {
        Tensor h = x;
        for (int i = 0; i < resnets.length; i++) {
            Tensor r = resnets[i].forward(h, tembAct);                      // [N, H, W, out]
            if (attentions != null) {
                try (Tensor old = r) {
                    r = attentions[i].forward(old, context);                // [N, H, W, out]
                }
            }
            skips.addLast(r);
            h = r;
        }
        if (downsampler != null) {
            h = downsampler.forward(h);                                     // [N, H/2, W/2, out]
            skips.addLast(h);
        }
        return h;
    }
}
