package dev.onestep.model.vae;

import dev.onestep.backend.Backend;
import dev.onestep.io.WeightSource;
import dev.onestep.io.config.VaeConfig;
import dev.onestep.model.ActivationHook;
import dev.onestep.model.WeightResolver;
import dev.onestep.nn.Linear;
import dev.onestep.tensor.Tensor;

import java.util.List;

/**
 * diffusers AutoencoderKL: {@link #encodeMean} (encoder + quant_conv, the mean half of the moments, no sampling)
 * and {@link #decode} (post_quant_conv + decoder). Scaling by scaling_factor is the pipeline's job.
 */
public final class AutoencoderKL implements AutoCloseable {
    private final Backend backend;
    private final VaeConfig config;
    private final Encoder encoder;
    private final Decoder decoder;
    private final Linear quantConv, postQuantConv; // 1×1 convs, null when the config disables them
    private final List<AutoCloseable> prepared;

    private AutoencoderKL(WeightResolver w, VaeConfig c) {
        backend = w.backend();
        config = c;
        int latent = c.latentChannels();
        encoder = new Encoder(w.child("encoder"), c);
        quantConv = c.useQuantConv() ? Linear.fromConv1x1(w, "quant_conv", 2 * latent, 2 * latent) : null;
        postQuantConv = c.usePostQuantConv() ? Linear.fromConv1x1(w, "post_quant_conv", latent, latent) : null;
        decoder = new Decoder(w.child("decoder"), c);
        prepared = w.prepared();
    }

    /** Builds the VAE from its config and weights; one error lists every weight that does not fit. */
    public static AutoencoderKL load(VaeConfig config, WeightSource weights, Backend backend) {
        return build(config, new WeightResolver(weights, backend));
    }

    /** Builds it against any resolver (real or {@link WeightResolver#synthetic synthetic} weights). */
    public static AutoencoderKL build(VaeConfig config, WeightResolver w) {
        return w.build("VAE", r -> new AutoencoderKL(r, config));
    }

    public VaeConfig config() { return config; }

    /** Encoder + quant_conv: x [N, H, W, 3] in [−1, 1] → moments [N, h, w, 2·latent] (mean first, then log-variance). */
    public Tensor encodeMoments(Tensor x, ActivationHook hook) {
        Tensor h = encoder.forward(x, hook);                          // [N, h, w, 2·latent]
        if (quantConv == null) return h;
        try (h) {
            return hook.recordOwned("quant_conv", quantConv.forward(h)); // [N, h, w, 2·latent]
        }
    }

    /** The mean half of the moments: [N, h, w, latent]. */
    public Tensor encodeMean(Tensor x, ActivationHook hook) {
        try (Tensor moments = encodeMoments(x, hook)) {
            return backend.sliceChannels(moments, 0, config.latentChannels());
        }
    }

    /** post_quant_conv + decoder: z [N, h, w, latent] (already divided by scaling_factor) → [N, 8h, 8w, out]. */
    public Tensor decode(Tensor z, ActivationHook hook) {
        if (postQuantConv == null) return decoder.forward(z, hook);
        try (Tensor p = postQuantConv.forward(z)) {                   // [N, h, w, latent]
            hook.record("post_quant_conv", p);
            return decoder.forward(p, hook);                          // [N, 8h, 8w, out]
        }
    }

    /** The decoder's spatial up-scaling: 2^(number of blocks − 1) (8 for SD2). */
    public int scaleFactor() {
        return 1 << (config.blockOutChannels().length - 1);
    }

    /**
     * {@link #decode} tile by tile, so the decoder's activations (hundreds of MB per layer at 768², GBs at 2048²) only
     * ever exist at tile size. The latent is cut into tiles of {@code tileLatent}² latent pixels overlapping by
     * {@code overlap} (the last tile in each direction is moved back to end at the border); each tile is decoded on its
     * own and the decoded tiles are blended where they overlap with weights that ramp linearly from the tile's inner
     * edges over overlap·{@link #scaleFactor} pixels (1 elsewhere, and at the image border), normalised by their sum.
     *
     * <p>When one tile covers the whole latent the result is exactly {@link #decode}'s. Otherwise it is an
     * approximation (GroupNorm statistics are per tile, as in diffusers' tiled_decode).
     *
     * @param z          [N, h, w, latent] (already divided by scaling_factor), on this VAE's backend
     * @param tileLatent tile edge in latent pixels (≥ 1)
     * @param overlap    overlap in latent pixels, 0 ≤ overlap < tileLatent
     * @return [N, 8h, 8w, out] on the backend
     */
    public Tensor decodeTiled(Tensor z, int tileLatent, int overlap) {
        if (tileLatent < 1 || overlap < 0 || overlap >= tileLatent)
            throw new IllegalArgumentException("tile " + tileLatent + " with overlap " + overlap + ": need tile ≥ 1 and 0 ≤ overlap < tile");
        int n = z.dim(0), h = z.dim(1), w = z.dim(2), c = z.dim(3);
        if (h <= tileLatent && w <= tileLatent) return decode(z, ActivationHook.NONE);
        int[] ys = tileStarts(h, tileLatent, overlap), xs = tileStarts(w, tileLatent, overlap);
        int th = Math.min(h, tileLatent), tw = Math.min(w, tileLatent), f = scaleFactor(), oc = config.outChannels();
        int oh = h * f, ow = w * f;
        float[] zh;
        try (Tensor host = backend.download(z)) {
            zh = host.toFloatArray();
        }
        float[] acc = new float[Math.multiplyExact(Math.multiplyExact(n * oh, ow), oc)];
        float[] wsum = new float[n * oh * ow];
        float ramp = Math.max(1, overlap * f);
        float[] tile = new float[n * th * tw * c];
        for (int y0 : ys) {
            for (int x0 : xs) {
                for (int b = 0; b < n; b++)
                    for (int y = 0; y < th; y++)
                        System.arraycopy(zh, ((b * h + y0 + y) * w + x0) * c, tile, ((b * th + y) * tw) * c, tw * c);
                float[] dec;
                try (Tensor zt = Tensor.of(tile, n, th, tw, c);
                     Tensor up = backend.upload(zt);
                     Tensor out = decode(up, ActivationHook.NONE);
                     Tensor host = backend.download(out)) {
                    dec = host.toFloatArray();
                }
                int dh = th * f, dw = tw * f;
                float[] wy = edgeWeights(dh, y0 > 0, y0 + th < h, ramp), wx = edgeWeights(dw, x0 > 0, x0 + tw < w, ramp);
                for (int b = 0; b < n; b++)
                    for (int y = 0; y < dh; y++) {
                        int orow = (b * oh + y0 * f + y) * ow + x0 * f;
                        for (int x = 0; x < dw; x++) {
                            float wt = wy[y] * wx[x];
                            int src = ((b * dh + y) * dw + x) * oc, dst = (orow + x) * oc;
                            for (int k = 0; k < oc; k++) acc[dst + k] += wt * dec[src + k];
                            wsum[orow + x] += wt;
                        }
                    }
            }
        }
        for (int p = 0; p < wsum.length; p++)
            for (int k = 0; k < oc; k++) acc[p * oc + k] /= wsum[p];
        try (Tensor host = Tensor.of(acc, n, oh, ow, oc)) {
            return backend.upload(host);
        }
    }

    /** Tile origins along one axis: 0, stride, 2·stride, … with the last moved back to end at {@code size}. */
    public static int[] tileStarts(int size, int tile, int overlap) {
        if (size <= tile) return new int[] {0};
        int stride = tile - overlap;
        int count = (size - tile + stride - 1) / stride + 1;
        int[] s = new int[count];
        for (int i = 0; i < count; i++) s[i] = Math.min(i * stride, size - tile);
        return s;
    }

    /** Blend weights along a decoded tile's axis: linear ramps (from 0.5/ramp to 1) at inner edges, 1 elsewhere. */
    static float[] edgeWeights(int len, boolean rampStart, boolean rampEnd, float ramp) {
        float[] wgt = new float[len];
        for (int i = 0; i < len; i++) {
            float a = rampStart ? Math.min(1f, (i + 0.5f) / ramp) : 1f;
            float b = rampEnd ? Math.min(1f, (len - i - 0.5f) / ramp) : 1f;
            wgt[i] = Math.min(a, b);
        }
        return wgt;
    }

    @Override
    public void close() {
        WeightResolver.release(prepared);
    }
}
