package dev.onestep;

import dev.onestep.image.ImageLoader;
import dev.onestep.backend.cpu.Parallel;
import dev.onestep.image.RgbImage;
import dev.onestep.io.ModelFolder;
import dev.onestep.io.ModelLocator;
import dev.onestep.io.TaskHint;
import dev.onestep.io.hub.DownloadListener;
import dev.onestep.io.hub.HubConfig;
import dev.onestep.pipeline.MarigoldPipeline;
import dev.onestep.pipeline.Engine;
import dev.onestep.pipeline.PostProcess;
import dev.onestep.pipeline.Prediction;
import dev.onestep.tensor.DType;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.locks.ReentrantLock;

/**
 * OneStep as a library: load a checkpoint once, predict depth or normals for many images.
 *
 * <pre>{@code
 * try (OneStep model = OneStep.load("GonzaloMG/marigold-e2e-ft-depth", OneStep.Options.defaults())) {
 *     DepthMap depth = model.predictDepth(Path.of("photo.jpg"));   // [H·W] in [0, 1], larger = farther
 *     depth.writePng16(Path.of("photo_depth.png"));
 *     float d = depth.get(120, 80);
 * }
 * }</pre>
 *
 * <p>{@code load} takes a local diffusers folder or a Hugging Face id (looked up in the shared hub cache, downloaded
 * when missing unless HF_HUB_OFFLINE is set; see {@link HubConfig}). A checkpoint is fine-tuned for one task: use
 * {@code predictDepth} with a depth checkpoint and {@code predictNormals} with a normals one (a mismatch is
 * reported once through the {@link Listener}).
 *
 * <p><b>Threads.</b> An instance is thread-safe: predictions are serialised on the instance (one at a time, in
 * arrival order: a fair lock), because one prediction already uses every core on the CPU backend and the pipeline
 * reuses its buffers. For parallelism across devices, load one instance per device. {@link #close} waits its turn
 * behind the predictions already waiting, then frees the weights; later calls throw {@link IllegalStateException}.
 *
 * <p><b>Cancellation.</b> A prediction whose thread is interrupted ({@code Future.cancel(true)}, {@link Thread#interrupt})
 * or that {@link #cancel()} stops ends at its next operation with a {@link java.util.concurrent.CancellationException}
 * (cause: the {@link InterruptedException} where there is one), after every buffer it allocated has been released
 * and every helper thread has stopped; the instance stays usable. An interrupt from the caller is left set on the
 * thread, as is the convention; one from {@link #cancel()} is cleared.
 *
 * <p>Nothing here prints or exits: messages go to the {@link Listener}; failures are exceptions —
 * {@link IOException} for unreadable files (an {@link dev.onestep.image.ImageException} names the file),
 * {@link IllegalArgumentException} for a zero-size image or one too large for the memory budget (the message gives
 * the size it would need), {@link dev.onestep.io.WeightsException} for a missing or broken checkpoint (refused
 * configs, weights that do not match them, NaN/Inf weights),
 * {@link dev.onestep.pipeline.NonFiniteException} when a stage produces NaN/Inf (naming the stage),
 * {@link java.util.concurrent.CancellationException} for a cancelled prediction.
 */
public final class OneStep implements AutoCloseable {
    /** Where messages go; every method has an empty default. */
    public interface Listener {
        Listener NONE = new Listener() {};

        /** Informational: the backend chosen, a model resolved. */
        default void info(String message) {}

        /** Something worth a warning: weights-variant fallbacks, a task/checkpoint mismatch. */
        default void warning(String message) {}

        /** A download of {@code files} files, {@code bytes} in all (−1 when unknown), from {@code repo} begins. */
        default void downloadStarted(String repo, int files, long bytes) {}

        /** {@code done} of {@code total} bytes (−1 when unknown) of {@code file} have arrived. */
        default void fileProgress(String file, long done, long total) {}

        /** {@code file} is complete and verified ({@code bytes} long). */
        default void fileDone(String file, long bytes) {}

        /** A branch or tag of {@code repo} resolved to {@code commit}. */
        default void revisionResolved(String repo, String revision, String commit) {}

        /** Something about a download worth saying: a retry, a resume, a hash that could not be checked. */
        default void downloadNote(String message) {}
    }

    /** {@code l}'s download methods as the hub client's listener. */
    private static DownloadListener downloads(Listener l) {
        return new DownloadListener() {
            @Override
            public void downloadStarted(String repo, int files, long bytes) { l.downloadStarted(repo, files, bytes); }

            @Override
            public void fileProgress(String file, long done, long total) { l.fileProgress(file, done, total); }

            @Override
            public void fileDone(String file, long bytes) { l.fileDone(file, bytes); }

            @Override
            public void revisionResolved(String repo, String revision, String commit) { l.revisionResolved(repo, revision, commit); }

            @Override
            public void downloadNote(String message) { l.downloadNote(message); }
        };
    }

    /**
     * Loading and prediction settings, immutable: {@code Options.builder().device("cpu").processingRes(512).build()},
     * or {@link #defaults()} and the {@code with*} copies. Every value is checked when it is set; a bad one is an
     * {@link IllegalArgumentException} naming the accepted values.
     */
    public static final class Options {
        private final String device, dtype, variant, revision;
        private final int processingRes, threads, batchSize;
        private final Resample resample;
        private final boolean exif, weightCheck, matchInputResolution, renormalizeNormals;
        private final long maxMemory;
        private final HubConfig hub;
        private final Listener listener;

        private Options(Builder b) {
            device = b.device;
            dtype = b.dtype;
            variant = b.variant;
            revision = b.revision;
            processingRes = b.processingRes;
            threads = b.threads;
            batchSize = b.batchSize;
            resample = b.resample;
            exif = b.exif;
            weightCheck = b.weightCheck;
            matchInputResolution = b.matchInputResolution;
            renormalizeNormals = b.renormalizeNormals;
            maxMemory = b.maxMemory;
            hub = b.hub != null ? b.hub : HubConfig.fromEnvironment();
            listener = b.listener;
        }

        /** A builder with the {@link #defaults()}. */
        public static Builder builder() { return new Builder(); }

        /**
         * auto device, fp32, 768, bilinear, fp32 weights, revision main, EXIF applied, automatic memory limit, every CPU
         * thread, batches of 1, hub settings from the environment, weights scanned for NaN/Inf.
         */
        public static Options defaults() { return builder().build(); }

        /** A builder holding these settings. */
        public Builder toBuilder() {
            Builder b = new Builder();
            b.device = device;
            b.dtype = dtype;
            b.variant = variant;
            b.revision = revision;
            b.processingRes = processingRes;
            b.threads = threads;
            b.batchSize = batchSize;
            b.resample = resample;
            b.exif = exif;
            b.weightCheck = weightCheck;
            b.matchInputResolution = matchInputResolution;
            b.renormalizeNormals = renormalizeNormals;
            b.maxMemory = maxMemory;
            b.hub = hub;
            b.listener = listener;
            return b;
        }

        /** "auto", "cpu" or "cuda". */
        public String device() { return device; }

        /** The compute dtype: "fp32", "bf16" or "fp16". */
        public String dtype() { return dtype; }

        /** Longest side the network sees (768 default; 0 = native size, bounded by the memory budget). */
        public int processingRes() { return processingRes; }

        public Resample resample() { return resample; }

        /** Weights variant to load ("fp16", "bf16") or null for fp32. */
        public String variant() { return variant; }

        /** Hub revision of an id: branch, tag or full commit hash; null = main (or the id's @REVISION). */
        public String revision() { return revision; }

        /** Whether JPEG EXIF orientation is applied when reading files (the reference does not). */
        public boolean exif() { return exif; }

        /** Activation memory limit in bytes; 0 = 80 % of physical memory (of the GPU's on CUDA). */
        public long maxMemory() { return maxMemory; }

        /** CPU threads a prediction uses; 0 = all. */
        public int threads() { return threads; }

        /** The most images one network pass may take in the list methods (each image runs its own pass today). */
        public int batchSize() { return batchSize; }

        /** Whether the weights are scanned for NaN/Inf at load (a checkpoint with any is refused). */
        public boolean weightCheck() { return weightCheck; }

        /** Whether maps come back at the input image's size (true, the default) or at the processing size. */
        public boolean matchInputResolution() { return matchInputResolution; }

        /** Whether normals are re-normalised to unit length after the resize back (false, E2E-FT's way, the default). */
        public boolean renormalizeNormals() { return renormalizeNormals; }

        public Listener listener() { return listener; }

        /** The Hugging Face cache and endpoint settings (from the environment unless the builder set them). */
        HubConfig hub() { return hub; }

        public Options withDevice(String d) { return toBuilder().device(d).build(); }

        public Options withDtype(String t) { return toBuilder().dtype(t).build(); }

        public Options withProcessingRes(int r) { return toBuilder().processingRes(r).build(); }

        public Options withResample(Resample m) { return toBuilder().resample(m).build(); }

        public Options withVariant(String v) { return toBuilder().variant(v).build(); }

        /** A branch, tag or full 40-hex commit hash of a hub id (null = main); a local folder takes none. */
        public Options withRevision(String r) { return toBuilder().revision(r).build(); }

        public Options withExif(boolean e) { return toBuilder().exif(e).build(); }

        public Options withMaxMemory(long bytes) { return toBuilder().maxMemory(bytes).build(); }

        public Options withThreads(int n) { return toBuilder().threads(n).build(); }

        public Options withBatchSize(int n) { return toBuilder().batchSize(n).build(); }

        /** false skips the NaN/Inf scan of the weights at load (non-finite outputs still fail each prediction). */
        public Options withWeightCheck(boolean check) { return toBuilder().weightCheck(check).build(); }

        public Options withListener(Listener l) { return toBuilder().listener(l).build(); }

        Options withHub(HubConfig h) { return toBuilder().hub(h).build(); }

        @Override
        public String toString() {
            return "Options[device=" + device + ", dtype=" + dtype + ", processingRes=" + processingRes + ", resample=" + resample
                    + ", variant=" + variant + ", revision=" + revision + ", exif=" + exif + ", maxMemory=" + maxMemory + ", threads="
                    + threads + ", batchSize=" + batchSize + ", weightCheck=" + weightCheck + ", matchInputResolution=" + matchInputResolution
                    + ", renormalizeNormals=" + renormalizeNormals + ", " + hub + "]";
        }

        /** Sets {@link Options} one value at a time; each setter checks its value. */
        public static final class Builder {
            private String device = "auto", dtype = "fp32", variant, revision;
            private int processingRes = 768, threads, batchSize = 1;
            private Resample resample = Resample.BILINEAR;
            private boolean exif = true, weightCheck = true, matchInputResolution = true, renormalizeNormals;
            private long maxMemory;
            private HubConfig hub;
            private Listener listener = Listener.NONE;
            private Path hubCache;
            private String hubEndpoint, hubToken;
            private Boolean offline;

            private Builder() {}

            /** "auto" (CUDA when a usable GPU is found, else the CPU), "cpu" or "cuda". */
            public Builder device(String d) {
                Objects.requireNonNull(d, "device");
                if (!d.equals("auto") && !d.equals("cpu") && !d.equals("cuda"))
                    throw new IllegalArgumentException("device must be \"auto\", \"cpu\" or \"cuda\", got \"" + d + "\"");
                device = d;
                return this;
            }

            /** The compute dtype: "fp32", "bf16" or "fp16" (16-bit on CUDA; the CPU backend computes in fp32 and refuses them). */
            public Builder dtype(String t) {
                Objects.requireNonNull(t, "dtype");
                if (!t.equals("fp32") && !t.equals("bf16") && !t.equals("fp16"))
                    throw new IllegalArgumentException("dtype must be \"fp32\", \"bf16\" or \"fp16\", got \"" + t + "\"");
                dtype = t;
                return this;
            }

            /** Longest side the network sees (default 768; 0 = the native size, bounded by the memory budget). */
            public Builder processingRes(int r) {
                if (r < 0 || r > 1 << 16) throw new IllegalArgumentException("processingRes must be 0 (native) or 1..65536, got " + r);
                processingRes = r;
                return this;
            }

            public Builder resample(Resample m) {
                resample = Objects.requireNonNull(m, "resample");
                return this;
            }

            /** Weights variant to load: "fp16", "bf16", or null for the fp32 files. */
            public Builder variant(String v) {
                if (v != null && !v.matches("[A-Za-z0-9_-]{1,32}"))
                    throw new IllegalArgumentException("variant must be a name such as \"fp16\" or \"bf16\", got \"" + v + "\"");
                variant = v;
                return this;
            }

            /** A branch, tag or full 40-hex commit hash of a hub id (null = main). */
            public Builder revision(String r) {
                revision = r;
                return this;
            }

            /** Apply JPEG EXIF orientation when reading files (default true; the reference does not). */
            public Builder exif(boolean e) {
                exif = e;
                return this;
            }

            /** Activation memory limit in bytes; 0 = 80 % of physical memory. */
            public Builder maxMemory(long bytes) {
                if (bytes < 0) throw new IllegalArgumentException("maxMemory must be ≥ 0 (0 = automatic), got " + bytes);
                maxMemory = bytes;
                return this;
            }

            /** CPU threads a prediction uses (0 = all of this machine's). */
            public Builder threads(int n) {
                int max = dev.onestep.backend.cpu.Parallel.THREADS;
                if (n < 0 || n > max) throw new IllegalArgumentException("threads must be 0 (all) or 1.." + max + ", got " + n);
                threads = n;
                return this;
            }

            /** The most images one network pass may take in the list methods (default 1; each image runs its own pass today). */
            public Builder batchSize(int n) {
                if (n < 1 || n > 1024) throw new IllegalArgumentException("batchSize must be 1..1024, got " + n);
                batchSize = n;
                return this;
            }

            /**
             * Return maps at the input image's size (true, the default) or at the processing size, the decoder's
             * output (false: diffusers' {@code match_input_resolution=False}, run.py's {@code --output_processing_res});
             * with false the map's width and height are the processing size's, and any uncertainty is at that size too.
             */
            public Builder matchInputResolution(boolean match) {
                matchInputResolution = match;
                return this;
            }

            /**
             * Re-normalise normals to unit length after they are resized back to the input size (diffusers'
             * Marigold pipelines do: n / max(‖n‖, 1e-6)); default false, E2E-FT's way (resized, clipped to [−1, 1], not
             * renormalised). No effect at the processing size.
             */
            public Builder renormalizeNormals(boolean renormalize) {
                renormalizeNormals = renormalize;
                return this;
            }

            /** Scan the weights for NaN/Inf at load and refuse a checkpoint that has any (default true). */
            public Builder weightCheck(boolean check) {
                weightCheck = check;
                return this;
            }

            public Builder listener(Listener l) {
                listener = l == null ? Listener.NONE : l;
                return this;
            }

            /** The Hugging Face cache folder (default: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub). */
            public Builder hubCache(Path dir) {
                hubCache = Objects.requireNonNull(dir, "dir");
                return this;
            }

            /** The hub to download from (default: HF_ENDPOINT, else https://huggingface.co). */
            public Builder hubEndpoint(String url) {
                hubEndpoint = Objects.requireNonNull(url, "url");
                return this;
            }

            /** The access token for gated or private models (default: HF_TOKEN). */
            public Builder hubToken(String token) {
                hubToken = token;
                return this;
            }

            /** Never touch the network; use only the cache (default: HF_HUB_OFFLINE). */
            public Builder offline(boolean off) {
                offline = off;
                return this;
            }

            Builder hub(HubConfig h) {
                hub = h;
                return this;
            }

            public Options build() {
                if (hubCache != null || hubEndpoint != null || hubToken != null || offline != null) {
                    HubConfig h = hub != null ? hub : HubConfig.fromEnvironment();
                    h = new HubConfig(hubCache != null ? hubCache : h.cacheDir(), hubEndpoint != null ? hubEndpoint : h.endpoint(),
                            hubToken != null ? hubToken : h.token(), offline != null ? offline : h.offline(), h.downloadTimeout(),
                            h.etagTimeout(), h.limits());
                    hub = h;
                    hubCache = null;
                    hubEndpoint = null;
                    hubToken = null;
                    offline = null;
                }
                return new Options(this);
            }
        }
    }

    private final Options options;
    private final Engine engine;
    private boolean closed;
    /** Predictions and close() take turns in arrival order (fair), as documented. */
    private final ReentrantLock lock = new ReentrantLock(true);
    /** Guards {@link #current} between a prediction's end and {@link #cancel}. */
    private final Object calls = new Object();
    private Call current;

    private OneStep(Options options, Engine engine) {
        this.options = options;
        this.engine = engine;
    }

    /**
     * Loads a local diffusers folder or a Hugging Face id, ORG/NAME or ORG/NAME@REVISION (the same revision as
     * {@link Options#revision()}, when both are given; different ones are an error).
     */
    public static OneStep load(String modelOrId, Options options) {
        Objects.requireNonNull(modelOrId, "modelOrId");
        JvmFlags.check();
        return load(ModelLocator.locate(modelOrId, options.revision(), options.variant(), options.hub(), downloads(options.listener())), options);
    }

    /**
     * Loads a local diffusers folder.
     *
     * @throws IllegalStateException when the JVM lacks the flags OneStep needs (the message names them), or when
     *                               {@code device("cuda")} finds no usable GPU
     * @throws IllegalArgumentException for a 16-bit dtype on the CPU backend
     */
    public static OneStep load(Path modelDir, Options options) {
        JvmFlags.check();
        ModelFolder folder = ModelFolder.open(modelDir, options.variant());
        return new OneStep(options, Engine.load(folder, options.device(), DType.parseCompute(options.dtype()), Engine.DtypeOnCpu.REFUSE,
                options.weightCheck(), options.maxMemory(), options.listener()::info, options.listener()::warning));
    }

    /** The local model folder in use (a hub cache snapshot for an id). */
    public Path modelDir() { return engine.folder().dir(); }

    /** The task the checkpoint appears to be fine-tuned for, or empty when its metadata does not say. */
    public java.util.Optional<Task> likelyTask() {
        TaskHint.Guess g = TaskHint.guess(engine.folder().dir());
        return g == null ? java.util.Optional.empty() : java.util.Optional.of(g.task());
    }

    public Options options() { return options; }

    /** The backend predictions run on: "cpu" or "cuda" (what "auto" chose). */
    public String backendName() { return engine.backend().name(); }

    /** Depth for an image file (EXIF orientation per {@link Options#exif()}). */
    public DepthMap predictDepth(Path image) throws IOException { return predictDepth(image, Recipe.oneStep()); }

    /** Depth for an image file with {@code recipe}. */
    public DepthMap predictDepth(Path image, Recipe recipe) throws IOException { return depth(run(readChecked(image), Task.DEPTH, recipe)); }

    /** Depth for an in-memory image. */
    public DepthMap predictDepth(BufferedImage image) { return predictDepth(image, Recipe.oneStep()); }

    /** Depth for an in-memory image with {@code recipe} (e.g. {@code Recipe.marigold().steps(4).ensemble(5)}). */
    public DepthMap predictDepth(BufferedImage image, Recipe recipe) { return depth(run(fromBuffered(image), Task.DEPTH, recipe)); }

    /** Depth for RGB planes [3, H, W] (channels first, row-major) with values in [0, 1]. */
    public DepthMap predictDepth(float[] rgbChw, int width, int height) {
        return depth(run(fromFloats(rgbChw, width, height), Task.DEPTH, Recipe.oneStep()));
    }

    /** Normals for an image file. */
    public NormalMap predictNormals(Path image) throws IOException { return predictNormals(image, Recipe.oneStep()); }

    /** Normals for an image file with {@code recipe}. */
    public NormalMap predictNormals(Path image, Recipe recipe) throws IOException { return normals(run(readChecked(image), Task.NORMALS, recipe)); }

    /** Normals for an in-memory image. */
    public NormalMap predictNormals(BufferedImage image) { return predictNormals(image, Recipe.oneStep()); }

    /** Normals for an in-memory image with {@code recipe}. */
    public NormalMap predictNormals(BufferedImage image, Recipe recipe) { return normals(run(fromBuffered(image), Task.NORMALS, recipe)); }

    /** Normals for RGB planes [3, H, W] with values in [0, 1]. */
    public NormalMap predictNormals(float[] rgbChw, int width, int height) {
        return normals(run(fromFloats(rgbChw, width, height), Task.NORMALS, Recipe.oneStep()));
    }

    /**
     * Depth for every image, in order, run in batches: images of one processing size go through the networks
     * together, up to {@link Options#batchSize()} at a time (fewer when the memory budget allows fewer); other sizes
     * form batches of their own. Each map is the one its own call would give, within the fp32 tolerance (a batch may
     * be blocked differently by the kernels). The first failure (an unreadable or oversized image) ends the call.
     */
    public List<DepthMap> predictDepth(List<BufferedImage> images) {
        Objects.requireNonNull(images, "images");
        return uncheckedIo(() -> batched(images.size(), i -> fromBuffered(images.get(i)), Task.DEPTH)).stream()
                .map(p -> depth(new MarigoldPipeline.Result(p, null))).toList();
    }

    /** Depth for every image file, in order, in batches (see {@link #predictDepth(List)}). */
    public List<DepthMap> predictDepthFiles(List<Path> images) throws IOException {
        Objects.requireNonNull(images, "images");
        return batched(images.size(), i -> readChecked(images.get(i)), Task.DEPTH).stream()
                .map(p -> depth(new MarigoldPipeline.Result(p, null))).toList();
    }

    /** Normals for every image, in order, in batches (see {@link #predictDepth(List)}). */
    public List<NormalMap> predictNormals(List<BufferedImage> images) {
        Objects.requireNonNull(images, "images");
        return uncheckedIo(() -> batched(images.size(), i -> fromBuffered(images.get(i)), Task.NORMALS)).stream()
                .map(p -> normals(new MarigoldPipeline.Result(p, null))).toList();
    }

    /** Normals for every image file, in order, in batches. */
    public List<NormalMap> predictNormalsFiles(List<Path> images) throws IOException {
        Objects.requireNonNull(images, "images");
        return batched(images.size(), i -> readChecked(images.get(i)), Task.NORMALS).stream()
                .map(p -> normals(new MarigoldPipeline.Result(p, null))).toList();
    }

    /** The i-th input of a list call, decoded. */
    private interface Source {
        RgbImage image(int i) throws IOException;
    }

    private interface IoWork<T> {
        T run() throws IOException;
    }

    private static <T> T uncheckedIo(IoWork<T> work) {
        try {
            return work.run();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e); // in-memory images: unreachable
        }
    }

    /** The one-step pipeline over {@code count} inputs in batches ({@link Engine#batches}); the first failure ends the call. */
    private List<Prediction> batched(int count, Source source, Task task) throws IOException {
        Prediction[] out = new Prediction[count];
        try {
            Parallel.withThreads(options.threads(), () -> {
                try {
                    engine.batches(count, options.batchSize(), options.processingRes(), options.resample().mode(), source::image,
                            (indices, batch) -> locked(task, () -> engine.pipeline().predict(batch, task, null, output())),
                            new Engine.Sink() {
                                @Override
                                public void done(int index, Prediction p) { out[index] = p; }

                                @Override
                                public void failed(int index, Throwable e) throws Exception {
                                    if (e instanceof Exception x) throw x;
                                    throw (Error) e;
                                }
                            });
                    return null;
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                } catch (RuntimeException e) {
                    throw e;
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
        } catch (java.io.UncheckedIOException e) {
            throw e.getCause();
        }
        return java.util.Arrays.asList(out);
    }

    private static DepthMap depth(MarigoldPipeline.Result r) {
        Prediction p = r.prediction();
        return new DepthMap(p.data(), p.width(), p.height(), StageTimes.of(p.times()), r.uncertainty());
    }

    private static NormalMap normals(MarigoldPipeline.Result r) {
        Prediction p = r.prediction();
        return new NormalMap(p.data(), p.width(), p.height(), StageTimes.of(p.times()), r.uncertainty());
    }

    private RgbImage readChecked(Path file) throws IOException {
        return engine.read(file, options.exif(), options.processingRes());
    }

    private RgbImage fromBuffered(BufferedImage bi) {
        Objects.requireNonNull(bi, "image");
        engine.admit("image", bi.getWidth(), bi.getHeight(), options.processingRes());
        return ImageLoader.fromBufferedImage(bi);
    }

    /** [0, 1] floats to the 8-bit image the reference works on: round(v·255), clipped; NaN → 0. */
    private RgbImage fromFloats(float[] chw, int w, int h) {
        Objects.requireNonNull(chw, "rgbChw");
        engine.admit("image", w, h, options.processingRes());
        if (chw.length != 3L * w * h) throw new IllegalArgumentException(chw.length + " values for a 3×" + h + "×" + w + " image");
        byte[] planes = new byte[chw.length];
        for (int i = 0; i < chw.length; i++) {
            float v = chw[i];
            planes[i] = (byte) (Float.isNaN(v) ? 0 : Math.round(Math.min(1f, Math.max(0f, v)) * 255f));
        }
        return new RgbImage(planes, w, h, "float image");
    }

    /** This build: the version and the commit it came from, e.g. "0.1.0 (commit 0123456789ab)". */
    public static String version() { return Version.TEXT; }

    private PostProcess.Output output() {
        return new PostProcess.Output(options.matchInputResolution(), options.renormalizeNormals());
    }

    private MarigoldPipeline.Result run(RgbImage img, Task task, Recipe recipe) {
        Objects.requireNonNull(recipe, "recipe");
        return locked(task, () -> recipe.isOneStep()
                ? new MarigoldPipeline.Result(engine.pipeline().predict(img, task, options.processingRes(), options.resample().mode(), null, output()), null)
                : engine.multiStep().predict(img, task, recipe.toOptions(options.processingRes(), options.resample().mode(),
                engine.pipeline().scheduler().defaultSpacing()), null, output()));
    }

    /**
     * Runs {@code work} as this instance's one running prediction: in its turn (the fair lock), on the options' CPU
     * threads, cancellable by {@link #cancel}, and refused once the instance is closed.
     */
    private <T> T locked(Task task, java.util.function.Supplier<T> work) {
        acquire();
        Call call = new Call(Thread.currentThread());
        try {
            if (closed) throw new IllegalStateException("this OneStep instance is closed");
            engine.noteTask(task);
            synchronized (calls) {
                current = call;
            }
            T r = Parallel.withThreads(options.threads(), work);
            if (call.cancelled) throw cancelled(null);
            return r;
        } catch (CancellationException e) {
            throw e;
        } catch (RuntimeException e) {
            if (call.cancelled || Thread.currentThread().isInterrupted()) throw cancelled(e);
            throw e;
        } finally {
            synchronized (calls) {
                current = null; // from here on cancel() cannot interrupt this thread
            }
            if (call.cancelled) Thread.interrupted(); // our own interrupt: the caller's thread is left as it was
            lock.unlock();
        }
    }

    /** Takes the instance's fair lock; a thread interrupted while it waits gets a CancellationException. */
    private void acquire() {
        try {
            lock.lockInterruptibly();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw cancelled(e);
        }
    }

    private static CancellationException cancelled(Throwable cause) {
        CancellationException c = new CancellationException("the prediction was cancelled (interrupted); its working memory was released");
        if (cause != null) c.initCause(cause instanceof CancellationException ce && ce.getCause() != null ? ce.getCause() : cause);
        return c;
    }

    /**
     * Cancels the prediction running now on this instance, from any thread: it stops at its next operation and throws
     * {@link CancellationException}, having released its working memory; the predicting thread's interrupt status is
     * left as it was before. Predictions waiting for their turn are not affected.
     *
     * @return whether a prediction was running
     */
    public boolean cancel() {
        synchronized (calls) {
            Call c = current;
            if (c == null) return false;
            c.cancelled = true;
            c.thread.interrupt();
            return true;
        }
    }

    /**
     * The backend memory allocated right now, in bytes (weights and caches included; −1 when the backend cannot
     * tell): for monitoring an embedding service. Whenever no prediction runs it is back at its value from before
     * the predictions, however they ended (normally, failed or cancelled).
     */
    public long liveMemoryBytes() { return engine.backend().liveMemoryBytes(); }

    /** One running prediction: its thread, and whether {@link #cancel} asked it to stop. */
    private static final class Call {
        final Thread thread;
        volatile boolean cancelled;

        Call(Thread thread) { this.thread = thread; }
    }

    /** Waits (in arrival order, behind the predictions already waiting) for the running prediction, then frees everything. */
    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) return;
            closed = true;
            engine.close();
        } finally {
            lock.unlock();
        }
    }
}
