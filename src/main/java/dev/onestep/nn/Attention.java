package dev.onestep.nn;

import dev.onestep.backend.Backend;
import dev.onestep.backend.OpOutput;
import dev.onestep.model.WeightResolver;
import dev.onestep.tensor.Tensor;

/**
 * diffusers Attention (AttnProcessor semantics): q = to_q(x), k = to_k(ctx), v = to_v(ctx), per-head
 * softmax(q·kᵀ / √d)·v, then to_out.0. Softmax is always computed in fp32, which is also what
 * upcast_attention / upcast_softmax ask for.
 *
 * <p>The VAE's mid-block variant adds a group norm before the projections and the residual after them; that
 * wrapper lives in {@link #forwardSpatialResidual}.
 */
public final class Attention {
    private final Backend backend;
    private final Linear toQ, toK, toV, toOut;
    private final GroupNorm groupNorm; // VAE only
    private final int heads;
    private final float scale;

    /**
     * @param queryDim   channels of x
     * @param contextDim channels of the context (queryDim for self-attention)
     * @param heads      number of heads; head dim = queryDim / heads
     * @param bias       whether q/k/v projections have biases (UNet: no; VAE: yes)
     * @param groups     group-norm groups for the VAE variant, 0 for none
     */
    public Attention(WeightResolver w, int queryDim, int contextDim, int heads, boolean bias, int groups, float eps) {
        if (queryDim % heads != 0) throw new IllegalArgumentException(queryDim + " channels do not split into " + heads + " heads");
        this.backend = w.backend();
        this.groupNorm = groups > 0 ? new GroupNorm(w, "group_norm", groups, queryDim, eps) : null;
        this.toQ = new Linear(w, "to_q", queryDim, queryDim, bias);
        this.toK = new Linear(w, "to_k", contextDim, queryDim, bias);
        this.toV = new Linear(w, "to_v", contextDim, queryDim, bias);
        this.toOut = new Linear(w, "to_out.0", queryDim, queryDim, true);
        this.heads = heads;
        this.scale = (float) (1.0 / Math.sqrt(queryDim / heads));
    }

    /**
     * @param x       [N, L, C]
     * @param context [N, Lc, contextDim], or null for self-attention
     * @return [N, L, C]
     */
    public Tensor forward(Tensor x, Tensor context) {
        Tensor ctx = context != null ? context : x;
        Tensor o;
        try (Tensor q = toQ.forward(x);          // [N, L, C]
             Tensor k = toK.forward(ctx);        // [N, Lc, C]
             Tensor v = toV.forward(ctx)) {      // [N, Lc, C]
            o = backend.attention(q, k, v, heads, scale, false); // [N, L, C]
        }
        try (o) {
            return toOut.forward(o);             // [N, L, C]
        }
    }

    /** The VAE mid-block form: x [N, H, W, C] → x + to_out(attn(group_norm(x))) (residual_connection, rescale 1). */
    public Tensor forwardSpatialResidual(Tensor x) {
        int n = x.dim(0), h = x.dim(1), wd = x.dim(2), c = x.dim(3);
        Tensor out;
        try (Tensor normed = groupNorm.forward(x)) {              // [N, H, W, C]
            out = forward(normed.reshape(n, h * wd, c), null);    // [N, HW, C]
        }
        OpOutput.fill(out, () -> backend.addInPlace(out, x.reshape(n, h * wd, c)));
        return out.takeAs(n, h, wd, c);                          // [N, H, W, C]
    }
}
