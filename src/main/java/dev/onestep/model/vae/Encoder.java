package dev.onestep.model.vae;

import dev.onestep.backend.Backend;
import dev.onestep.io.config.VaeConfig;
import dev.onestep.model.ActivationHook;
import dev.onestep.model.WeightResolver;
import dev.onestep.nn.Conv2d;
import dev.onestep.nn.Downsample2D;
import dev.onestep.nn.GroupNorm;
import dev.onestep.nn.ResnetBlock2D;
import dev.onestep.tensor.Tensor;

/**
 * diffusers vae.Encoder: conv_in, DownEncoderBlock2D × n (resnets + a bottom/right-padded stride-2 conv on all
 * but the last), mid block, GroupNorm + SiLU, conv_out to 2 × latent_channels (mean and log-variance).
 */
final class Encoder {
    private final Backend backend;
    private final Conv2d convIn, convOut;
    private final ResnetBlock2D[][] resnets;
    private final Downsample2D[] downsamplers;
    private final MidBlock2D midBlock;
    private final GroupNorm convNormOut;

    Encoder(WeightResolver w, VaeConfig c) {
        backend = w.backend();
        int[] ch = c.blockOutChannels();
        int groups = c.normNumGroups();
        convIn = Conv2d.same(w, "conv_in", c.inChannels(), ch[0], 3);
        resnets = new ResnetBlock2D[ch.length][];
        downsamplers = new Downsample2D[ch.length];
        int out = ch[0];
        for (int i = 0; i < ch.length; i++) {
            int in = out;
            out = ch[i];
            WeightResolver b = w.child("down_blocks." + i);
            resnets[i] = new ResnetBlock2D[c.layersPerBlock()];
            for (int j = 0; j < resnets[i].length; j++)
                resnets[i][j] = new ResnetBlock2D(b.child("resnets." + j), j == 0 ? in : out, out, 0, groups, 1e-6f, 1f);
            if (i < ch.length - 1) downsamplers[i] = new Downsample2D(b.child("downsamplers.0"), out, 0);
        }
        midBlock = new MidBlock2D(w.child("mid_block"), ch[ch.length - 1], groups, c.midBlockAddAttention());
        convNormOut = new GroupNorm(w, "conv_norm_out", groups, ch[ch.length - 1], 1e-6f);
        convOut = Conv2d.same(w, "conv_out", ch[ch.length - 1], 2 * c.latentChannels(), 3);
    }

    /** x [N, H, W, 3] in [−1, 1] → [N, H/8, W/8, 2·latent] (H/8 rounded as the padded convs do). */
    Tensor forward(Tensor x, ActivationHook hook) {
        Tensor h = hook.recordOwned("encoder.conv_in", convIn.forward(x)); // [N, H, W, C0]
        for (int i = 0; i < resnets.length; i++) {
            for (ResnetBlock2D r : resnets[i]) {
                try (Tensor old = h) {
                    h = r.forward(old, null);                           // [N, H_i, W_i, C_i]
                }
            }
            if (downsamplers[i] != null) {
                try (Tensor old = h) {
                    h = downsamplers[i].forward(old);                   // [N, ⌊(H_i − 1)/2⌋ + 1, …, C_i]
                }
            }
            hook.recordOwned("encoder.down_blocks." + i, h);
        }
        try (Tensor old = h) {
            h = midBlock.forward(old);                                  // [N, h, w, Clast]
        }
        hook.recordOwned("encoder.mid_block", h);
        Tensor act;
        try (Tensor old = h) {
            act = VaeOps.normSilu(backend, convNormOut, old, hook, "encoder.conv_norm_out");
        }
        try (act) {
            return hook.recordOwned("encoder.conv_out", convOut.forward(act)); // [N, h, w, 2·latent]
        }
    }
}
