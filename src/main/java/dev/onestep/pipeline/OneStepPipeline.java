package dev.onestep.pipeline;

import dev.onestep.Task;
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
        int n = rgbLatent.dim(0);
        try (Tensor input = backend.concatChannels(rgbLatent, xt);                        // [N, h8, w8, 8]
             Tensor copies = n == 1 ? null : textEmbeddings(n)) {                         // [N, L, D]
            if (dump != null) dump.stage(inputName, input);
            Tensor context = copies == null ? textEmbedding : copies;
            Tensor out = unet.forward(input, t, context, hook.prefixed("unet/"));        // [N, h8, w8, 4]
            return checked(out, "UNet", "its output at timestep " + t);
        }
    }

    /** The empty-prompt embedding repeated for a batch of {@code n}: [n, L, D] on the backend (caller closes). */
    private Tensor textEmbeddings(int n) {
        float[] one;
        try (Tensor host = backend.download(textEmbedding)) {                              // [1, L, D]
            one = host.toFloatArray();
        }
        float[] all = new float[Math.multiplyExact(n, one.length)];
        for (int b = 0; b < n; b++) System.arraycopy(one, 0, all, b * one.length, one.length);
        try (Tensor host = Tensor.of(all, n, textEmbedding.dim(1), textEmbedding.dim(2))) {
            return backend.upload(host);
        }
    }

    /**
     * Step 10 for one image: z = latent / scaling_factor, VAE decode, download.
     *
     * @param latent [1, h8, w8, 4] a clean latent (x0)
     * @param dump   receives vae_dec_input_unscaled, vae_dec_output and the decoder activations, or null
     * @return the decoder output as channels-first planes [3, 8·h8, 8·w8]
     */
    public Planes decodeToPlanes(Tensor latent, DumpHook dump) {
        if (latent.dim(0) != 1) throw new IllegalArgumentException("decodeToPlanes takes one latent, got " + java.util.Arrays.toString(latent.shape()));
        return decodeBatchToPlanes(latent, dump).get(0);
    }

    /**
     * Step 10 for a batch: z = latent / scaling_factor, VAE decode, download.
     *
     * @param latent [N, h8, w8, 4] clean latents (x0)
     * @return each image's decoder output as channels-first planes [3, 8·h8, 8·w8], in batch order
     */
    public List<Planes> decodeBatchToPlanes(Tensor latent, DumpHook dump) {
        ActivationHook hook = dump != null ? dump : ActivationHook.NONE;
        try (Tensor z = backend.axpby(1f / scalingFactor, latent, 0f, null)) {            // [N, h8, w8, 4]
            if (dump != null) dump.stage("vae_dec_input_unscaled", z);
            // Past TILE_LATENT² latents (R = 0 on large photos) the decoder runs in blended tiles so memory stays flat;
            // at the default 768 processing resolution (96×96 latent) it is one exact pass, as the reference.
            boolean tiled = dump == null && Math.max(z.dim(1), z.dim(2)) > TILE_LATENT;
            try (Tensor decoded = tiled ? vae.decodeTiled(z, TILE_LATENT, TILE_OVERLAP)
                    : vae.decode(z, hook.prefixed("vae_dec/"))) {                         // [N, 8h8, 8w8, 3]
                if (dump != null) dump.stage("vae_dec_output", decoded);
                int n = decoded.dim(0), dh = decoded.dim(1), dw = decoded.dim(2), c = decoded.dim(3);
                try (Tensor host = backend.download(decoded)) {
                    float[] planes = Layouts.nhwcToNchw(host.toFloatArray(), n, dh, dw, c);           // [N, 3, dh, dw]
                    StageCheck.finite("VAE decoder", "the decoded image", planes);
                    int per = c * dh * dw;
                    List<Planes> out = new ArrayList<>(n);
                    for (int b = 0; b < n; b++)
                        out.add(new Planes(n == 1 ? planes : java.util.Arrays.copyOfRange(planes, b * per, (b + 1) * per), c, dh, dw));
                    return out;
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
        return predict(List.of(prepare(image, processingRes, resample)), task, dump, output).get(0);
    }

    /**
     * An image ready for the networks: steps 1–3 done (resized to its processing size and normalised), with the
     * input size the map returns to. Holds no backend memory, so a batch can be gathered before it runs.
     *
     * @param nhwc     [h, w, 3] channels-last values in [−1, 1]
     * @param resample the filter of the resize to the processing size, and of the one back
     */
    public record Prepared(float[] nhwc, int width, int height, int inputWidth, int inputHeight, Resize.Mode resample, double preprocessMs) {
        /** The processing size as (width, height): images of equal size can share a batch. */
        public List<Integer> size() { return List.of(width, height); }
    }

    /** Steps 1–3 for one image (see {@link #preprocess}). */
    public Prepared prepare(RgbImage image, int processingRes, Resize.Mode resample) {
        long t0 = System.nanoTime();
        try (Tensor host = preprocess(image, processingRes, resample)) {                 // [1, h, w, 3]
            return new Prepared(host.toFloatArray(), host.dim(2), host.dim(1), image.width(), image.height(),
                    resample, ms(System.nanoTime() - t0));
        }
    }

    /**
     * Runs the one-step pipeline on a batch: the images go through the VAE encoder, the UNet and the decoder together
     * (N in the batch dimension); each gets the map its own run would give (within the fp32 tolerance: the kernels
     * may block a batch differently). A batch's stage times are shared out evenly among its images.
     *
     * @param images of one processing size (see {@link Prepared#size()})
     * @param dump   receives every stage and activation in the fixtures' names, or null
     */
    public List<Prediction> predict(List<Prepared> images, Task task, DumpHook dump, PostProcess.Output output) {
        int n = images.size();
        if (n == 0) return List.of();
        Prepared first = images.get(0);
        int w = first.width(), h = first.height();
        float[] batch = new float[Math.multiplyExact(n, first.nhwc().length)];
        double preprocessMs = 0;
        for (int b = 0; b < n; b++) {
            Prepared p = images.get(b);
            if (p.width() != w || p.height() != h)
                throw new IllegalArgumentException("one batch holds one processing size: image " + b + " is " + p.width() + "×" + p.height()
                        + ", image 0 is " + w + "×" + h);
            System.arraycopy(p.nhwc(), 0, batch, b * p.nhwc().length, p.nhwc().length);
            preprocessMs += p.preprocessMs();
        }
        long t1 = System.nanoTime();
        // 4: VAE encode
        Tensor latent;
        try (Tensor host = Tensor.of(batch, n, h, w, 3)) {                              // [N, h, w, 3]
            latent = encode(host, dump);                                                // [N, h8, w8, 4]
        }
        long t2 = System.nanoTime();
        // 5–9: zero target latent, UNet at t = 999 (trailing spacing, one step), x0 from v
        Tensor x0;
        try (latent; Tensor noisy = backend.zeros(latent.shape())) {                    // [N, h8, w8, 4]
            if (dump != null) dump.stage("text_embedding", textEmbedding);
            int t = scheduler.timesteps(1, DdimScheduler.Spacing.TRAILING)[0];
            DdimScheduler.Step step = scheduler.step(t, 1);
            try (Tensor v = unet(latent, noisy, t, dump, "unet_input")) {               // [N, h8, w8, 4]
                if (dump != null) dump.stage("unet_output", v);
                x0 = backend.axpby(step.x0Model(), v, step.x0Sample(), noisy);           // [N, h8, w8, 4]
            }
        }
        long t3 = System.nanoTime();
        // 10: decode x0 / scaling_factor
        List<Planes> decoded;
        try (x0) {
            if (dump != null) dump.stage("x0_latent", x0);
            decoded = decodeBatchToPlanes(x0, dump);                                    // N × [3, dh, dw]
        }
        long t4 = System.nanoTime();
        // 11–12: post-processing per image
        float[][] maps = new float[n][];
        for (int b = 0; b < n; b++) maps[b] = postProcess(decoded.get(b), task, images.get(b), output);
        long t5 = System.nanoTime();
        Prediction.StageTimes each = new Prediction.StageTimes(preprocessMs / n, ms(t2 - t1) / n, ms(t3 - t2) / n, ms(t4 - t3) / n, ms(t5 - t4) / n);
        List<Prediction> out = new ArrayList<>(n);
        for (int b = 0; b < n; b++) {
            Prepared p = images.get(b);
            Planes d = decoded.get(b);
            int outW = output.matchInput() ? p.inputWidth() : d.width(), outH = output.matchInput() ? p.inputHeight() : d.height();
            out.add(new Prediction(task, maps[b], outW, outH, each));
        }
        return out;
    }

    /** Steps 11–12: post-processing at the decoded size, then (unless the processing size was asked for) back to the input size. */
    private static float[] postProcess(Planes dec, Task task, Prepared image, PostProcess.Output output) {
        int H = image.inputHeight(), W = image.inputWidth();
        float[] out;
        if (!output.matchInput()) out = task == Task.DEPTH
                ? PostProcess.depth(dec.data(), dec.height(), dec.width())
                : PostProcess.normals(dec.data(), dec.height(), dec.width());
        else if (task == Task.DEPTH) out = PostProcess.depth(dec.data(), dec.height(), dec.width(), H, W, image.resample());
        else {
            out = PostProcess.normals(dec.data(), dec.height(), dec.width(), H, W, image.resample());
            if (output.renormalizeNormals()) PostProcess.renormalizeDiffusers(out, H, W);
        }
        StageCheck.finite("post-processing", "the " + task.suffix() + " map", out);
        return out;
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
