package dev.onestep.model.unet;

import dev.onestep.backend.Backend;
import dev.onestep.model.WeightResolver;
import dev.onestep.nn.ResnetBlock2D;
import dev.onestep.nn.Transformer2DModel;
import dev.onestep.nn.Upsample2D;
import dev.onestep.tensor.Tensor;

import java.util.Deque;

/**
 * diffusers CrossAttnUpBlock2D (with attentions) and UpBlock2D (without): each layer concatenates the next
 * skip connection after the hidden state (channel-wise, hidden first), runs a resnet and optionally a
 * Transformer2DModel; then an optional nearest-neighbour upsampler to the next skip's size.
 */
final class UpBlock2D {
    private final Backend backend;
    private final ResnetBlock2D[] resnets;
    private final Transformer2DModel[] attentions; // null for UpBlock2D
    private final Upsample2D upsampler;            // null on the last block

    UpBlock2D(WeightResolver w, BlockSpec s, boolean crossAttention, boolean addUpsample) {
        backend = w.backend();
        resnets = new ResnetBlock2D[s.layers()];
        attentions = crossAttention ? new Transformer2DModel[s.layers()] : null;
        for (int i = 0; i < s.layers(); i++) {
            int skipChannels = i == s.layers() - 1 ? s.in() : s.out();
            int resnetIn = i == 0 ? s.prevOut() : s.out();
            resnets[i] = new ResnetBlock2D(w.child("resnets." + i), resnetIn + skipChannels, s.out(), s.tembChannels(), s.groups(), s.eps(), 1f);
            if (crossAttention)
                attentions[i] = s.transformer(w.child("attentions." + i));
        }
        upsampler = addUpsample ? new Upsample2D(w.child("upsamplers.0"), s.out()) : null;
    }

    int layers() { return resnets.length; }

    /**
     * @param x       [N, H, W, prevOut] (not consumed)
     * @param skips   the down path's outputs; this block pops (and closes) one per layer from the end
     * @return [N, H', W', out] where H', W' is the next skip's size when upsampling
     */
    Tensor forward(Tensor x, Tensor tembAct, Tensor context, Deque<Tensor> skips) {
        Tensor h = x;
        for (int i = 0; i < resnets.length; i++) {
            Tensor cat;
            try (Tensor skip = skips.removeLast()) {
                cat = backend.concatChannels(h, skip);                     // [N, H, W, C + Cskip]
            } finally {
                if (h != x) h.close();
            }
            try (cat) {
                h = resnets[i].forward(cat, tembAct);                      // [N, H, W, out]
            }
            if (attentions != null) {
                try (Tensor old = h) {
                    h = attentions[i].forward(old, context);               // [N, H, W, out]
                }
            }
        }
        if (upsampler != null) {
            Tensor next = skips.peekLast();
            int outH = next != null ? next.dim(1) : 2 * h.dim(1), outW = next != null ? next.dim(2) : 2 * h.dim(2);
            try (Tensor old = h) {
                h = upsampler.forward(old, outH, outW);                    // [N, outH, outW, out]
            }
        }
        return h;
    }
}
