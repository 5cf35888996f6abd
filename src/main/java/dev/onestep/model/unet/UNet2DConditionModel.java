package dev.onestep.model.unet;

import dev.onestep.backend.Backend;
import dev.onestep.io.WeightSource;
import dev.onestep.io.config.UNetConfig;
import dev.onestep.model.ActivationHook;
import dev.onestep.model.WeightResolver;
import dev.onestep.nn.Conv2d;
import dev.onestep.nn.GroupNorm;
import dev.onestep.nn.TimestepEmbedding;
import dev.onestep.tensor.Tensor;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;

/**
 * diffusers UNet2DConditionModel of the SD2 family, built from config.json (widths, heads, block types are
 * never hard-coded). forward(sample, t, text) returns the model output (v, ε or x0 by prediction_type).
 */
public final class UNet2DConditionModel implements AutoCloseable {
    private final Backend backend;
    private final UNetConfig config;
    private final int timeProjDim;
    private final boolean flipSinToCos;
    private final float freqShift;
    private final TimestepEmbedding timeEmbedding;
    private final Conv2d convIn, convOut;
    private final DownBlock2D[] downBlocks;
    private final MidBlock2DCrossAttn midBlock;
    private final UpBlock2D[] upBlocks;
    private final GroupNorm convNormOut;
    private final List<AutoCloseable> prepared;

    private UNet2DConditionModel(WeightResolver w, UNetConfig c) {
        this.backend = w.backend();
        this.config = c;
        int[] ch = c.blockOutChannels();
        int nBlocks = ch.length;
        int[] heads = c.headsPerBlock();
        int[] layers = c.layersPerBlock();
        int[] tLayers = c.transformerLayersPerBlock();
        int groups = c.normNumGroups();
        float eps = (float) c.normEps();
        this.timeProjDim = ch[0];
        int tembDim = c.timeEmbeddingDim() != null ? c.timeEmbeddingDim() : 4 * ch[0];
        this.flipSinToCos = c.flipSinToCos();
        this.freqShift = (float) c.freqShift();

        this.convIn = Conv2d.same(w, "conv_in", c.inChannels(), ch[0], c.convInKernel());
        this.timeEmbedding = new TimestepEmbedding(w.child("time_embedding"), timeProjDim, tembDim);

        downBlocks = new DownBlock2D[nBlocks];
        int out = ch[0];
        for (int i = 0; i < nBlocks; i++) {
            int in = out;
            out = ch[i];
            boolean cross = c.downBlockTypes().get(i).equals("CrossAttnDownBlock2D");
            BlockSpec s = new BlockSpec(in, out, 0, layers[i], tembDim, groups, eps, heads[i], tLayers[i],
                    c.crossAttentionDim(), c.useLinearProjection(), c.onlyCrossAttention());
            downBlocks[i] = new DownBlock2D(w.child("down_blocks." + i), s, cross, i < nBlocks - 1, c.downsamplePadding());
        }

        int last = ch[nBlocks - 1];
        BlockSpec mid = new BlockSpec(last, last, last, 1, tembDim, groups, eps, heads[nBlocks - 1], tLayers[nBlocks - 1],
                c.crossAttentionDim(), c.useLinearProjection(), c.onlyCrossAttention());
        midBlock = new MidBlock2DCrossAttn(w.child("mid_block"), mid, 1, (float) c.midBlockScaleFactor());

        upBlocks = new UpBlock2D[nBlocks];
        out = ch[nBlocks - 1];
        for (int i = 0; i < nBlocks; i++) {
            int r = nBlocks - 1 - i; // index into the (reversed) per-block lists
            int prevOut = out;
            out = ch[r];
            int in = ch[Math.max(r - 1, 0)];
            boolean cross = c.upBlockTypes().get(i).equals("CrossAttnUpBlock2D");
            BlockSpec s = new BlockSpec(in, out, prevOut, layers[r] + 1, tembDim, groups, eps, heads[r], tLayers[r],
                    c.crossAttentionDim(), c.useLinearProjection(), c.onlyCrossAttention());
            upBlocks[i] = new UpBlock2D(w.child("up_blocks." + i), s, cross, i < nBlocks - 1);
        }

        this.convNormOut = new GroupNorm(w, "conv_norm_out", groups, ch[0], eps);
        this.convOut = Conv2d.same(w, "conv_out", ch[0], c.outChannels(), c.convOutKernel());
        this.prepared = w.prepared();
    }

    /** Builds the UNet from its config and weights; one error lists every weight that does not fit. */
    public static UNet2DConditionModel load(UNetConfig config, WeightSource weights, Backend backend) {
        return build(config, new WeightResolver(weights, backend));
    }

    /** Builds it against any resolver (real or {@link WeightResolver#synthetic synthetic} weights). */
    public static UNet2DConditionModel build(UNetConfig config, WeightResolver w) {
        return w.build("UNet", r -> new UNet2DConditionModel(r, config));
    }

    public UNetConfig config() { return config; }

    /**
     * @param sample   [N, h, w, in_channels] latent (channels-last)
     * @param timestep the diffusion timestep (999 for one-step E2E FT)
     * @param context  [N, L, cross_attention_dim] text embedding
     * @return [N, h, w, out_channels]
     */
    public Tensor forward(Tensor sample, float timestep, Tensor context, ActivationHook hook) {
        int n = sample.dim(0);
        float[] ts = new float[n];
        java.util.Arrays.fill(ts, timestep);
        Tensor tembAct;
        try (Tensor tProj = backend.timestepEmbedding(ts, timeProjDim, flipSinToCos, freqShift)) { // [N, C0]
            hook.record("time_proj", tProj);
            try (Tensor emb = timeEmbedding.forward(tProj)) {                  // [N, 4·C0]
                hook.record("time_embedding", emb);
                tembAct = backend.silu(emb);                                  // resnets all take silu(emb)
            }
        }
        Deque<Tensor> skips = new ArrayDeque<>();   // the down path's outputs, owned here until the up path pops them
        Tensor h = null;                            // the up path's current tensor, owned here
        try (tembAct) {
            Tensor d = convIn.forward(sample);                                // [N, h, w, C0]
            skips.addLast(d);
            hook.record("conv_in", d);
            for (int i = 0; i < downBlocks.length; i++) {
                d = downBlocks[i].forward(d, tembAct, context, skips);        // [N, h/2^i, w/2^i, Ci]
                hook.record("down_blocks." + i, d);
            }
            h = midBlock.forward(d, tembAct, context);                        // [N, h/8, w/8, Clast]
            hook.record("mid_block", h);
            for (int i = 0; i < upBlocks.length; i++) {
                Tensor old = h;
                h = null;
                try (old) {
                    h = upBlocks[i].forward(old, tembAct, context, skips);    // [N, …, C]
                }
                hook.record("up_blocks." + i, h);
            }
            return normActConv(h, hook);                                      // [N, h, w, out_channels]
        } finally {
            if (h != null) h.close();
            for (Tensor t : skips) t.close();
        }
    }

    private Tensor normActConv(Tensor h, ActivationHook hook) {
        Tensor act;
        if (hook.active()) {
            try (Tensor normed = convNormOut.forward(h)) {                   // [N, h, w, C0]
                hook.record("conv_norm_out", normed);
                act = backend.silu(normed);
            }
        } else {
            act = convNormOut.forwardSilu(h);
        }
        try (act) {
            return hook.recordOwned("conv_out", convOut.forward(act));         // [N, h, w, out_channels]
        }
    }

    @Override
    public void close() {
        WeightResolver.release(prepared);
    }
}
