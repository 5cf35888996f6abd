package dev.onestep.nn;

import dev.onestep.backend.Backend;
import dev.onestep.model.WeightResolver;
import dev.onestep.tensor.Tensor;

/**
 * diffusers BasicTransformerBlock (norm_type "layer_norm"): self-attention, cross-attention, GEGLU
 * feed-forward, each pre-normed with a LayerNorm (eps 1e-5) and added to the residual stream.
 */
public final class BasicTransformerBlock {
    private final Backend backend;
    private final LayerNorm norm1, norm2, norm3;
    private final Attention attn1, attn2;
    private final FeedForward ff;
    private final boolean onlyCrossAttention;

    public BasicTransformerBlock(WeightResolver w, int dim, int heads, int crossAttentionDim, boolean onlyCrossAttention) {
        this.backend = w.backend();
        this.onlyCrossAttention = onlyCrossAttention;
        this.norm1 = new LayerNorm(w, "norm1", dim, 1e-5f);
        this.attn1 = new Attention(w.child("attn1"), dim, onlyCrossAttention ? crossAttentionDim : dim, heads, false, 0, 0f);
        this.norm2 = new LayerNorm(w, "norm2", dim, 1e-5f);
        this.attn2 = new Attention(w.child("attn2"), dim, crossAttentionDim, heads, false, 0, 0f);
        this.norm3 = new LayerNorm(w, "norm3", dim, 1e-5f);
        this.ff = new FeedForward(w.child("ff"), dim, 4 * dim);
    }

    /**
     * @param x       [N, L, dim]; updated in place (three residual adds), not closed: the caller owns it throughout
     * @param context [N, Lc, crossAttentionDim]
     * @return x
     */
    public Tensor forward(Tensor x, Tensor context) {
        try (Tensor n1 = norm1.forward(x);                                        // [N, L, dim]
             Tensor a1 = attn1.forward(n1, onlyCrossAttention ? context : null)) {  // [N, L, dim]
            backend.addInPlace(x, a1);
        }
        try (Tensor n2 = norm2.forward(x);                                        // [N, L, dim]
             Tensor a2 = attn2.forward(n2, context)) {                            // [N, L, dim]
            backend.addInPlace(x, a2);
        }
        try (Tensor n3 = norm3.forward(x);                                        // [N, L, dim]
             Tensor f = ff.forward(n3)) {                                         // [N, L, dim]
            backend.addInPlace(x, f);
        }
        return x;
    }
}
