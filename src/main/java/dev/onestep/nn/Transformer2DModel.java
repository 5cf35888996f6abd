package dev.onestep.nn;

import dev.onestep.backend.Backend;
import dev.onestep.backend.OpOutput;
import dev.onestep.model.WeightResolver;
import dev.onestep.tensor.Tensor;

/**
 * diffusers Transformer2DModel (continuous input): GroupNorm (eps 1e-6) → proj_in (linear, or a 1×1 conv
 * which is the same thing on channels-last data) → BasicTransformerBlocks → proj_out → + input.
 */
public final class Transformer2DModel {
    private final Backend backend;
    private final GroupNorm norm;
    private final Linear projIn, projOut;
    private final BasicTransformerBlock[] blocks;

    public Transformer2DModel(WeightResolver w, int channels, int heads, int layers, int crossAttentionDim, int groups,
                              boolean useLinearProjection, boolean onlyCrossAttention) {
        this.backend = w.backend();
        this.norm = new GroupNorm(w, "norm", groups, channels, 1e-6f);
        this.projIn = useLinearProjection ? new Linear(w, "proj_in", channels, channels, true) : Linear.fromConv1x1(w, "proj_in", channels, channels);
        this.blocks = new BasicTransformerBlock[layers];
        for (int i = 0; i < layers; i++)
            blocks[i] = new BasicTransformerBlock(w.child("transformer_blocks." + i), channels, heads, crossAttentionDim, onlyCrossAttention);
        this.projOut = useLinearProjection ? new Linear(w, "proj_out", channels, channels, true) : Linear.fromConv1x1(w, "proj_out", channels, channels);
    }

    /**
     * @param x       [N, H, W, C]
     * @param context [N, Lc, crossAttentionDim]
     * @return [N, H, W, C]
     */
    public Tensor forward(Tensor x, Tensor context) {
        int n = x.dim(0), h = x.dim(1), wd = x.dim(2), c = x.dim(3);
        Tensor t;
        try (Tensor normed = norm.forward(x)) {                     // [N, H, W, C]
            t = projIn.forward(normed.reshape(n, h * wd, c));       // [N, HW, C]
        }
        Tensor out;
        try (Tensor last = t) {                                     // the blocks update t in place
            for (BasicTransformerBlock block : blocks) block.forward(last, context); // [N, HW, C]
            out = projOut.forward(last);                            // [N, HW, C]
        }
        OpOutput.fill(out, () -> backend.addInPlace(out, x.reshape(n, h * wd, c)));
        return out.takeAs(n, h, wd, c);                             // [N, H, W, C]
    }
}
