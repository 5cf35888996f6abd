package dev.onestep.model.unet;

import dev.onestep.model.WeightResolver;
import dev.onestep.nn.Transformer2DModel;

/** The widths and settings one UNet block is built with, derived from config.json as diffusers does. */
record BlockSpec(int in, int out, int prevOut, int layers, int tembChannels, int groups, float eps,
                 int heads, int transformerLayers, int crossAttentionDim, boolean useLinearProjection,
                 boolean onlyCrossAttention) {

    Transformer2DModel transformer(WeightResolver w) {
        return new Transformer2DModel(w, out, heads, transformerLayers, crossAttentionDim, groups,
                useLinearProjection, onlyCrossAttention);
    }
}
