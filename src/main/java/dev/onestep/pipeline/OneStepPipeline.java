package dev.onestep.pipeline;

import dev.onestep.backend.Backend;
import dev.onestep.image.Normalize;
import dev.onestep.image.Resize;
import dev.onestep.image.RgbImage;
import dev.onestep.io.ModelFolder;
import dev.onestep.io.WeightSource;
import dev.onestep.model.ActivationHook;
import dev.onestep.model.clip.CLIPTextModel;
import dev.onestep.model.unet.UNet2DConditionModel;
import dev.onestep.model.vae.AutoencoderKL;
import dev.onestep.tensor.Layouts;
import dev.onestep.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * The E2E-FT one-step pipeline (SPEC.md steps 1–12): resize, normalise, VAE-encode the image, concatenate a
 * zero latent, one UNet call at the trailing-spacing timestep (999) with the cached empty-prompt embedding,
 * x0 from the scheduler's ᾱ and prediction type, VAE-decode, depth or normal post-processing, resize back.
 *
 * <p>Deterministic: no noise is drawn. Not thread-safe by itself; callers serialise {@link #predict}.
 */
public final class OneStepPipeline implements AutoCloseable {
    private final Backend backend;
    private final UNet2DConditionModel unet;
    private final AutoencoderKL vae;
    private final DdimScheduler scheduler;
    private final Tensor textEmbedding; // [1, L, cross_attention_dim], computed once per checkpoint
    private final List<WeightSource> sources;
    private final float scalingFactor;

    private OneStepPipeline(Backend backend, UNet2DConditionModel unet, AutoencoderKL vae, DdimScheduler scheduler,
                            Tensor textEmbedding, List<WeightSource> sources) {
        this.backend = backend;
        this.unet = unet;
        this.vae = vae;
        this.scheduler = scheduler;
        this.textEmbedding = textEmbedding;
        this.sources = sources;
        this.scalingFactor = (float) vae.config().scalingFactor();
    }

    /** Loads the UNet and VAE and computes the empty-prompt embedding (the text encoder is freed afterwards). */
    public static OneStepPipeline load(ModelFolder folder, Backend backend) {
        List<WeightSource> sources = new ArrayList<>();
        List<AutoCloseable> built = new ArrayList<>();
        try {
            DdimScheduler scheduler = new DdimScheduler(folder.scheduler());
            Tensor text;
            try (WeightSource tw = folder.openWeights(ModelFolder.TEXT_ENCODER);
                 CLIPTextModel clip = CLIPTextModel.load(folder.textEncoder(), tw, backend)) {
                text = clip.forward(folder.emptyPromptTokenIds(), ActivationHook.NONE); // [1, 2, D]
            }
            built.add(text);
            WeightSource uw = folder.openWeights(ModelFolder.UNET);
            sources.add(uw);
            UNet2DConditionModel unet = UNet2DConditionModel.load(folder.unet(), uw, backend);
            built.add(unet);
            WeightSource vw = folder.openWeights(ModelFolder.VAE);
            sources.add(vw);
            AutoencoderKL vae = AutoencoderKL.load(folder.vae(), vw, backend);
            checkCompatible(folder, unet, vae, text);
            return new OneStepPipeline(backend, unet, vae, scheduler, text, sources);
        } catch (RuntimeException e) {
            for (AutoCloseable c : built) closeQuietly(c);
            for (WeightSource s : sources) closeQuietly(s);
            throw e;
        }
    }

    private static void checkCompatible(ModelFolder folder, UNet2DConditionModel unet, AutoencoderKL vae, Tensor text) {
        int latent = vae.config().latentChannels();
        String where = folder.dir().toString();
        if (unet.config().inChannels() != 2 * latent)
            throw new dev.onestep.io.WeightsException(where + ": UNet in_channels " + unet.config().inChannels()
                    + " is not 2 × the VAE's latent_channels " + latent + " (an image-conditioned Marigold UNet is required)");
        if (unet.config().outChannels() != latent)
            throw new dev.onestep.io.WeightsException(where + ": UNet out_channels " + unet.config().outChannels() + " ≠ VAE latent_channels " + latent);
        if (unet.config().crossAttentionDim() != text.dim(-1))
            throw new dev.onestep.io.WeightsException(where + ": UNet cross_attention_dim " + unet.config().crossAttentionDim()
                    + " ≠ text encoder hidden_size " + text.dim(-1));
    }

    public Backend backend() { return backend; }

    public DdimScheduler scheduler() { return scheduler; }

    /** The processing size (width, height) an image of w × h gets at processing resolution {@code res} (0 = native). */
    public static int[] processingSize(int w, int h, int res) { return Resize.resizeMaxRes(w, h, res); }

    /**
     * Runs the one-step pipeline on one image.
     *
     * @param dump receives every stage and activation in the fixtures' names, or null
     */
    public Prediction predict(RgbImage image, Task task, int processingRes, Resize.Mode resample, DumpHook dump) {
        ActivationHook hook = dump != null ? dump : ActivationHook.NONE;
        int W = image.width(), H = image.height();
        if (W <= 0 || H <= 0) throw new IllegalArgumentException(image.name() + ": empty image (" + W + "×" + H + ")");
        long t0 = System.nanoTime();

        // 1–3: resize (uint8, as the reference) and normalise to [−1, 1]
        int[] size = processingSize(W, H, processingRes);
        int w = size[0], h = size[1];
        if (w < 1 || h < 1)
            throw new IllegalArgumentException(image.name() + ": " + W + "×" + H + " shrinks to " + w + "×" + h + " at processing resolution " + processingRes);
        RgbImage resized = (w == W && h == H) ? image : Resize.resizeUint8(image, h, w, resample);
        float[] chw = Normalize.toUnitRange(resized);                                  // [3, h, w]
        long t1 = System.nanoTime();

        Tensor decoded;
        long t2, t3;
        try (Tensor host = Tensor.of(Layouts.nchwToNhwc(chw, 1, 3, h, w), 1, h, w, 3); // [1, h, w, 3]
             Tensor x = backend.upload(host)) {
            if (dump != null) dump.stage("rgb_norm", x);
            // 4: VAE encode: the mean of the moments, times scaling_factor
            Tensor latent;
            try (Tensor moments = vae.encodeMoments(x, hook.prefixed("vae_enc/"))) {    // [1, h8, w8, 2·4]
                if (dump != null) dump.stage("vae_enc_moments", moments);
                try (Tensor mean = backend.sliceChannels(moments, 0, moments.dim(-1) / 2)) { // [1, h8, w8, 4]
                    if (dump != null) dump.stage("vae_enc_mean", mean);
                    latent = backend.axpby(scalingFactor, mean, 0f, null);
                }
            }
            t2 = System.nanoTime();
            // 5–9: zero target latent, UNet at t = 999 (trailing spacing, one step), x0 from v
            Tensor x0;
            try (latent; Tensor noisy = backend.zeros(latent.shape());
                 Tensor input = backend.concatChannels(latent, noisy)) {                // [1, h8, w8, 8]
                if (dump != null) {
                    dump.stage("rgb_latent", latent);
                    dump.stage("text_embedding", textEmbedding);
                    dump.stage("unet_input", input);
                }
                int t = scheduler.timesteps(1, DdimScheduler.Spacing.TRAILING)[0];
                DdimScheduler.Step step = scheduler.step(t, 1);
                try (Tensor v = unet.forward(input, t, textEmbedding, hook.prefixed("unet/"))) { // [1, h8, w8, 4]
                    if (dump != null) dump.stage("unet_output", v);
                    x0 = backend.axpby(step.x0Model(), v, step.x0Sample(), noisy);       // [1, h8, w8, 4]
                }
            }
            t3 = System.nanoTime();
            // 10: decode x0 / scaling_factor
            try (x0; Tensor z = backend.axpby(1f / scalingFactor, x0, 0f, null)) {
                if (dump != null) {
                    dump.stage("x0_latent", x0);
                    dump.stage("vae_dec_input_unscaled", z);
                }
                decoded = vae.decode(z, hook.prefixed("vae_dec/"));                     // [1, 8h8, 8w8, 3]
            }
        }
        long t4 = System.nanoTime();
        // 11–12: post-processing at the decoded size, then back to the input size
        float[] out;
        try (decoded) {
            if (dump != null) dump.stage("vae_dec_output", decoded);
            int dh = decoded.dim(1), dw = decoded.dim(2);
            float[] dec;
            try (Tensor host = backend.download(decoded)) {
                dec = Layouts.nhwcToNchw(host.toFloatArray(), 1, dh, dw, decoded.dim(3)); // [3, dh, dw]
            }
            out = task == Task.DEPTH
                    ? PostProcess.depth(dec, dh, dw, H, W, resample)
                    : PostProcess.normals(dec, dh, dw, H, W, resample);
        }
        long t5 = System.nanoTime();
        return new Prediction(task, out, W, H, new Prediction.StageTimes(ms(t1 - t0), ms(t2 - t1), ms(t3 - t2), ms(t4 - t3), ms(t5 - t4)));
    }

    private static double ms(long nanos) { return nanos / 1e6; }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception ignored) {
            // best effort while unwinding a failed load
        }
    }

    @Override
    public void close() {
        unet.close();
        vae.close();
        textEmbedding.close();
        for (WeightSource s : sources) closeQuietly(s);
    }
}
