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
            Tensor m = quantConv.forward(h);                          // [N, h, w, 2·latent]
            hook.record("quant_conv", m);
            return m;
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

    @Override
    public void close() {
        WeightResolver.release(prepared);
    }
}
