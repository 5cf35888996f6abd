package dev.onestep.pipeline;

import dev.onestep.backend.Backend;
import dev.onestep.backend.OpOutput;
import dev.onestep.image.Normalize;
import dev.onestep.image.Resize;
import dev.onestep.image.RgbImage;
import dev.onestep.io.ModelFolder;
import dev.onestep.io.TensorInfo;
import dev.onestep.io.WeightScan;
import dev.onestep.io.WeightSource;
import dev.onestep.io.WeightsException;
import dev.onestep.model.ActivationHook;
import dev.onestep.model.LayerCounts;
import dev.onestep.model.clip.CLIPTextModel;
import dev.onestep.model.unet.UNet2DConditionModel;
import dev.onestep.model.vae.AutoencoderKL;
import dev.onestep.tensor.Layouts;
import dev.onestep.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Function;

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

    /** Loads the UNet and VAE and computes the empty-prompt embedding (the text encoder is freed afterwards); weights are scanned. */
    public static OneStepPipeline load(ModelFolder folder, Backend backend) {
        return load(folder, backend, true);
    }

    /**
     * Loads the UNet and VAE and computes the empty-prompt embedding (the text encoder is freed afterwards). Each
     * component's layer counts are checked against its weights before it is built ({@link LayerCounts}) and, when
     * {@code weightCheck}, its weights are scanned for NaN/Inf ({@link WeightScan}).
     */
    public static OneStepPipeline load(ModelFolder folder, Backend backend, boolean weightCheck) {
        List<WeightSource> sources = new ArrayList<>();
        List<AutoCloseable> built = new ArrayList<>();
        try {
            DdimScheduler scheduler = new DdimScheduler(folder.scheduler());
            Tensor text;
            try (WeightSource tw = folder.openWeights(ModelFolder.TEXT_ENCODER)) {
                CLIPTextModel clip = loading(tw, weightCheck, w -> LayerCounts.checkClip(folder.textEncoder(), w),
                        w -> CLIPTextModel.load(folder.textEncoder(), w, backend));
                try (clip) {
                    text = clip.forward(folder.emptyPromptTokenIds(), ActivationHook.NONE); // [1, 2, D]
                }
            }
            built.add(text);
            WeightSource uw = folder.openWeights(ModelFolder.UNET);
            sources.add(uw);
            UNet2DConditionModel unet = loading(uw, weightCheck, w -> LayerCounts.checkUNet(folder.unet(), w),
                    w -> UNet2DConditionModel.load(folder.unet(), w, backend));
            built.add(unet);
            WeightSource vw = folder.openWeights(ModelFolder.VAE);
            sources.add(vw);
            AutoencoderKL vae = loading(vw, weightCheck, w -> LayerCounts.checkVae(folder.vae(), w),
                    w -> AutoencoderKL.load(folder.vae(), w, backend));
            built.add(vae);
            checkCompatible(folder, unet, vae, text);
            return new OneStepPipeline(backend, unet, vae, scheduler, text, sources);
        } catch (RuntimeException | Error e) {
            for (AutoCloseable c : built) closeQuietly(c);
            for (WeightSource s : sources) closeQuietly(s);
            throw e;
        }
    }

    /**
     * Builds one network from {@code weights}: its layer counts first, then (when asked) the NaN/Inf scan, then the
     * network. A mapped weights file that shrinks while it is read faults the access (the JVM's InternalError "a fault
     * occurred in an unsafe memory access operation"); that becomes one {@link WeightsException} naming the file.
     */
    static <M> M loading(WeightSource weights, boolean weightCheck, Consumer<WeightSource> layers,
                                 Function<WeightSource, M> build) {
        try {
            layers.accept(weights);
            if (weightCheck) WeightScan.check(weights);
            return build.apply(weights);
        } catch (InternalError e) {
            throw new WeightsException(changedFile(weights) + ": the weights file changed or was truncated while it was being read"
                    + " (another program wrote to it); make sure nothing modifies the model folder and load again", e);
        }
    }

    /** The file of {@code weights} that is now shorter than its header says, or the source's description. */
    private static String changedFile(WeightSource weights) {
        for (String k : weights.keys()) {
            TensorInfo t = weights.info(k);
            try {
                if (Files.size(t.file()) < t.offset() + t.length()) return t.file().toString();
            } catch (IOException gone) {
                return t.file().toString();
            }
        }
        return weights.description();
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

    /** The cached empty-prompt embedding [1, L, cross_attention_dim] (owned by the pipeline: do not close). */
    public Tensor textEmbedding() { return textEmbedding; }

    /**
     * Steps 1–3: resize to the processing size (uint8, as the reference) and normalise to [−1, 1].
     *
     * @return a host tensor [1, h, w, 3] (caller closes)
     */
    public Tensor preprocess(RgbImage image, int processingRes, Resize.Mode resample) {
        int W = image.width(), H = image.height();
        if (W <= 0 || H <= 0) throw new IllegalArgumentException(image.name() + ": empty image (" + W + "×" + H + ")");
        int[] size = processingSize(W, H, processingRes);
        int w = size[0], h = size[1];
        if (w < 1 || h < 1)
            throw new IllegalArgumentException(image.name() + ": " + W + "×" + H + " shrinks to " + w + "×" + h + " at processing resolution " + processingRes);
        RgbImage resized = (w == W && h == H) ? image : Resize.resizeUint8(image, h, w, resample);
        float[] chw = Normalize.toUnitRange(resized);                                   // [3, h, w]
        return Tensor.of(Layouts.nchwToNhwc(chw, 1, 3, h, w), 1, h, w, 3);              // [1, h, w, 3]
    }

    /**
     * Step 4: VAE-encode a preprocessed image; the mean of the moments times scaling_factor.
     *
     * @param host [1, h, w, 3] in [−1, 1] (from {@link #preprocess})
     * @param dump receives rgb_norm, vae_enc_moments, vae_enc_mean, rgb_latent and the encoder activations, or null
     * @return the image latent [1, h8, w8, latent_channels] on the backend (caller closes)
     */
    public Tensor encode(Tensor host, DumpHook dump) {
        ActivationHook hook = dump != null ? dump : ActivationHook.NONE;
        try (Tensor x = backend.upload(host)) {                                          // [1, h, w, 3]
            if (dump != null) dump.stage("rgb_norm", x);
            try (Tensor moments = vae.encodeMoments(x, hook.prefixed("vae_enc/"))) {     // [1, h8, w8, 2·4]
                if (dump != null) dump.stage("vae_enc_moments", moments);
                try (Tensor mean = backend.sliceChannels(moments, 0, moments.dim(-1) / 2)) { // [1, h8, w8, 4]
                    if (dump != null) dump.stage("vae_enc_mean", mean);
                    Tensor latent = backend.axpby(scalingFactor, mean, 0f, null);
                    if (dump != null) OpOutput.fill(latent, () -> dump.stage("rgb_latent", latent));
                    return checked(latent, "VAE encoder", "the image latent");
                }
            }
        }
    }

    /** Steps 1–4 in one call: image → rgb latent [1, h8, w8, 4] on the backend (caller closes). */
    public Tensor encodeImage(RgbImage image, int processingRes, Resize.Mode resample, DumpHook dump) {
        try (Tensor host = preprocess(image, processingRes, resample)) {
            return encode(host, dump);
        }
    }

    /**
     * One UNet evaluation: input = concat([rgb_latent, x_t]) (image latent FIRST), at timestep t with the
     * empty-prompt embedding.
     *
     * @param rgbLatent [1, h8, w8, 4]
     * @param xt        [1, h8, w8, 4] the current noisy target latent
     * @param inputName the dump name of the UNet input ("unet_input"), used only when dump is non-null
     * @return the model output [1, h8, w8, 4] (v, ε or x0 depending on prediction_type; caller closes)
     */
    public Tensor unet(Tensor rgbLatent, Tensor xt, int t, DumpHook dump, String inputName) {
        ActivationHook hook = dump != null ? dump : ActivationHook.NONE;
        try (Tensor input = backend.concatChannels(rgbLatent, xt)) {                     // [1, h8, w8, 8]
            if (dump != null) dump.stage(inputName, input);
            Tensor out = unet.forward(input, t, textEmbedding, hook.prefixed("unet/"));  // [1, h8, w8, 4]
            return checked(out, "UNet", "its output at timestep " + t);
        }
    }

    /**
     * Step 10: z = latent / scaling_factor, VAE decode, download.
     *
     * @param latent [1, h8, w8, 4] a clean latent (x0)
     * @param dump   receives vae_dec_input_unscaled, vae_dec_output and the decoder activations, or null
     * @return the decoder output as channels-first planes [3, 8·h8, 8·w8]
     */
    public Planes decodeToPlanes(Tensor latent, DumpHook dump) {
        ActivationHook hook = dump != null ? dump : ActivationHook.NONE;
        try (Tensor z = backend.axpby(1f / scalingFactor, latent, 0f, null)) {            // [1, h8, w8, 4]
            if (dump != null) dump.stage("vae_dec_input_unscaled", z);
            // Past TILE_LATENT² latents (R = 0 on large photos) the decoder runs in blended tiles so memory stays flat;
            // at the default 768 processing resolution (96×96 latent) it is one exact pass, as the reference.
            boolean tiled = dump == null && Math.max(z.dim(1), z.dim(2)) > TILE_LATENT;
            try (Tensor decoded = tiled ? vae.decodeTiled(z, TILE_LATENT, TILE_OVERLAP)
                    : vae.decode(z, hook.prefixed("vae_dec/"))) {                         // [1, 8h8, 8w8, 3]
                if (dump != null) dump.stage("vae_dec_output", decoded);
                int dh = decoded.dim(1), dw = decoded.dim(2), c = decoded.dim(3);
                try (Tensor host = backend.download(decoded)) {
                    float[] planes = Layouts.nhwcToNchw(host.toFloatArray(), 1, dh, dw, c);           // [3, dh, dw]
                    StageCheck.finite("VAE decoder", "the decoded image", planes);
                    return new Planes(planes, c, dh, dw);
                }
            }
        }
    }

    /** Decoder tiles for large latents: 128 latent pixels (1024 image pixels) with a 16-pixel blended overlap. */
    static final int TILE_LATENT = 128, TILE_OVERLAP = 16;

    /** A decoded image as channels-first float planes [channels, height, width]. */
    public record Planes(float[] data, int channels, int height, int width) {}

    /**
     * Runs the one-step pipeline on one image.
     *
     * @param dump receives every stage and activation in the fixtures' names, or null
     */
    public Prediction predict(RgbImage image, Task task, int processingRes, Resize.Mode resample, DumpHook dump) {
        return predict(image, task, processingRes, resample, dump, PostProcess.Output.INPUT_SIZE);
    }

    /** The same, the map ending where {@code output} says (input or processing size; normals renormalised or not). */
    public Prediction predict(RgbImage image, Task task, int processingRes, Resize.Mode resample, DumpHook dump, PostProcess.Output output) {
        int W = image.width(), H = image.height();
        long t0 = System.nanoTime();
        Tensor latent;
        long t1;
        // 1–3: resize and normalise; 4: VAE encode
        try (Tensor host = preprocess(image, processingRes, resample)) {
            t1 = System.nanoTime();
            latent = encode(host, dump);
        }
        long t2 = System.nanoTime();
        // 5–9: zero target latent, UNet at t = 999 (trailing spacing, one step), x0 from v
        Tensor x0;
        try (latent; Tensor noisy = backend.zeros(latent.shape())) {                    // [1, h8, w8, 4]
            if (dump != null) dump.stage("text_embedding", textEmbedding);
            int t = scheduler.timesteps(1, DdimScheduler.Spacing.TRAILING)[0];
            DdimScheduler.Step step = scheduler.step(t, 1);
            try (Tensor v = unet(latent, noisy, t, dump, "unet_input")) {               // [1, h8, w8, 4]
                if (dump != null) dump.stage("unet_output", v);
                x0 = backend.axpby(step.x0Model(), v, step.x0Sample(), noisy);           // [1, h8, w8, 4]
            }
        }
        long t3 = System.nanoTime();
        // 10: decode x0 / scaling_factor
        Planes dec;
        try (x0) {
            if (dump != null) dump.stage("x0_latent", x0);
            dec = decodeToPlanes(x0, dump);                                             // [3, dh, dw]
        }
        long t4 = System.nanoTime();
        // 11–12: post-processing at the decoded size, then (unless the processing size was asked for) back to the input size
        int outH = output.matchInput() ? H : dec.height(), outW = output.matchInput() ? W : dec.width();
        float[] out;
        if (!output.matchInput()) out = task == Task.DEPTH
                ? PostProcess.depth(dec.data(), dec.height(), dec.width())
                : PostProcess.normals(dec.data(), dec.height(), dec.width());
        else if (task == Task.DEPTH) out = PostProcess.depth(dec.data(), dec.height(), dec.width(), H, W, resample);
        else {
            out = PostProcess.normals(dec.data(), dec.height(), dec.width(), H, W, resample);
            if (output.renormalizeNormals()) PostProcess.renormalizeDiffusers(out, H, W);
        }
        StageCheck.finite("post-processing", "the " + task.suffix() + " map", out);
        long t5 = System.nanoTime();
        return new Prediction(task, out, outW, outH, new Prediction.StageTimes(ms(t1 - t0), ms(t2 - t1), ms(t3 - t2), ms(t4 - t3), ms(t5 - t4)));
    }

    /** {@code t} when it is finite; otherwise it is closed and the stage named in a {@link NonFiniteException}. */
    private Tensor checked(Tensor t, String stage, String what) {
        OpOutput.fill(t, () -> StageCheck.finite(backend, stage, what, t));
        return t;
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
