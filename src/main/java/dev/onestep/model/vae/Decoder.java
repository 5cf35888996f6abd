package dev.onestep.model.vae;

import dev.onestep.backend.Backend;
import dev.onestep.io.config.VaeConfig;
import dev.onestep.model.ActivationHook;
import dev.onestep.model.WeightResolver;
import dev.onestep.nn.Conv2d;
import dev.onestep.nn.GroupNorm;
import dev.onestep.nn.ResnetBlock2D;
import dev.onestep.nn.Upsample2D;
import dev.onestep.tensor.Tensor;

/**
 * diffusers vae.Decoder: conv_in, mid block, UpDecoderBlock2D × n (layers_per_block + 1 resnets and a 2×
 * nearest upsampler + conv on all but the last), GroupNorm + SiLU, conv_out.
 */
final class Decoder {
    private final Backend backend;
    private final Conv2d convIn, convOut;
    private final MidBlock2D midBlock;
    private final ResnetBlock2D[][] resnets;
    private final Upsample2D[] upsamplers;
    private final GroupNorm convNormOut;

    Decoder(WeightResolver w, VaeConfig c) {
        backend = w.backend();
        int[] ch = c.blockOutChannels();
        int n = ch.length, groups = c.normNumGroups();
        convIn = Conv2d.same(w, "conv_in", c.latentChannels(), ch[n - 1], 3);
        midBlock = new MidBlock2D(w.child("mid_block"), ch[n - 1], groups, c.midBlockAddAttention());
        resnets = new ResnetBlock2D[n][];
        upsamplers = new Upsample2D[n];
        int out = ch[n - 1];
        for (int i = 0; i < n; i++) {
            int prevOut = out;
            out = ch[n - 1 - i];
            WeightResolver b = w.child("up_blocks." + i);
            resnets[i] = new ResnetBlock2D[c.layersPerBlock() + 1];
            for (int j = 0; j < resnets[i].length; j++)
                resnets[i][j] = new ResnetBlock2D(b.child("resnets." + j), j == 0 ? prevOut : out, out, 0, groups, 1e-6f, 1f);
            if (i < n - 1) upsamplers[i] = new Upsample2D(b.child("upsamplers.0"), out);
        }
        convNormOut = new GroupNorm(w, "conv_norm_out", groups, ch[0], 1e-6f);
        convOut = Conv2d.same(w, "conv_out", ch[0], c.outChannels(), 3);
    }

    /** z [N, h, w, latent] (after post_quant_conv) → [N, 8h, 8w, out_channels]. */
    Tensor forward(Tensor z, ActivationHook hook) {
        Tensor h = hook.recordOwned("decoder.conv_in", convIn.forward(z)); // [N, h, w, Clast]
        try (Tensor old = h) {
            h = midBlock.forward(old);                                  // [N, h, w, Clast]
        }
        hook.recordOwned("decoder.mid_block", h);
        for (int i = 0; i < resnets.length; i++) {
            for (ResnetBlock2D r : resnets[i]) {
                try (Tensor old = h) {
                    h = r.forward(old, null);                           // [N, h_i, w_i, C_i]
                }
            }
            if (upsamplers[i] != null) {
                try (Tensor old = h) {
                    h = upsamplers[i].forward(old);                     // [N, 2h_i, 2w_i, C_i]
                }
            }
            hook.recordOwned("decoder.up_blocks." + i, h);
        }
        Tensor act;
        try (Tensor old = h) {
            act = VaeOps.normSilu(backend, convNormOut, old, hook, "decoder.conv_norm_out");
        }
        try (act) {
            return hook.recordOwned("decoder.conv_out", convOut.forward(act)); // [N, 8h, 8w, out_channels]
        }
    }
}
