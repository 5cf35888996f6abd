package dev.onestep;

import dev.onestep.backend.Backend;
import dev.onestep.backend.Backends;
import dev.onestep.image.ImageLoader;
import dev.onestep.image.Resize;
import dev.onestep.image.RgbImage;
import dev.onestep.io.ModelFolder;
import dev.onestep.io.ModelLocator;
import dev.onestep.io.TaskHint;
import dev.onestep.io.hub.DownloadListener;
import dev.onestep.io.hub.HubConfig;
import dev.onestep.pipeline.MemoryBudget;
import dev.onestep.pipeline.OneStepPipeline;
import dev.onestep.pipeline.Prediction;
import dev.onestep.pipeline.Task;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Objects;
import java.util.Set;
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
    /** Where messages go; every method has an empty default. Download progress comes through the parent's methods. */
    public interface Listener extends DownloadListener {
        Listener NONE = new Listener() {};

        /** Informational: the backend chosen, a model resolved. */
        default void info(String message) {}

        /** Something worth a warning: weights-variant fallbacks, a task/checkpoint mismatch. */
        default void warning(String message) {}
    }

    /**
     * Loading and prediction settings; start from {@link #defaults()} and change fields with the {@code with*} methods.
     *
     * @param device        "auto", "cpu" or "cuda"
     * @param processingRes longest side the network sees (768 default; 0 = native size, bounded by the memory budget)
     * @param resample      resize filter both ways
     * @param variant       weights variant to load ("fp16", "bf16") or null for fp32
     * @param revision      hub revision of an id: branch, tag or full commit hash; null = main (or the id's @REVISION)
     * @param exif          apply JPEG EXIF orientation when reading files (the reference does not)
     * @param maxMemory     activation memory limit in bytes; 0 = 80 % of physical memory
     * @param hub           Hugging Face cache and endpoint settings
     * @param listener      receives messages and download progress
     * @param weightCheck   scan the weights for NaN/Inf at load and refuse a checkpoint that has any (default true)
     */
    public record Options(String device, int processingRes, Resize.Mode resample, String variant, String revision, boolean exif,
                          long maxMemory, HubConfig hub, Listener listener, boolean weightCheck) {
        public Options {
            Objects.requireNonNull(device, "device");
            Objects.requireNonNull(resample, "resample");
            Objects.requireNonNull(hub, "hub");
            if (processingRes < 0) throw new IllegalArgumentException("processingRes must be ≥ 0, got " + processingRes);
            if (maxMemory < 0) throw new IllegalArgumentException("maxMemory must be ≥ 0, got " + maxMemory);
            listener = listener == null ? Listener.NONE : listener;
        }

        /** The settings with the weight check on. */
        public Options(String device, int processingRes, Resize.Mode resample, String variant, String revision, boolean exif,
                       long maxMemory, HubConfig hub, Listener listener) {
            this(device, processingRes, resample, variant, revision, exif, maxMemory, hub, listener, true);
        }

        /** The settings without a revision (main), as before revisions existed. */
        public Options(String device, int processingRes, Resize.Mode resample, String variant, boolean exif,
                       long maxMemory, HubConfig hub, Listener listener) {
            this(device, processingRes, resample, variant, null, exif, maxMemory, hub, listener, true);
        }

        /**
         * auto device, 768, bilinear, fp32 weights, revision main, EXIF applied, automatic memory limit, hub settings from
         * the environment, weights scanned for NaN/Inf.
         */
        public static Options defaults() {
            return new Options("auto", 768, Resize.Mode.BILINEAR, null, null, true, 0, HubConfig.fromEnvironment(), Listener.NONE);
        }

        public Options withDevice(String d) { return new Options(d, processingRes, resample, variant, revision, exif, maxMemory, hub, listener, weightCheck); }

        public Options withProcessingRes(int r) { return new Options(device, r, resample, variant, revision, exif, maxMemory, hub, listener, weightCheck); }

        public Options withResample(Resize.Mode m) { return new Options(device, processingRes, m, variant, revision, exif, maxMemory, hub, listener, weightCheck); }

        public Options withVariant(String v) { return new Options(device, processingRes, resample, v, revision, exif, maxMemory, hub, listener, weightCheck); }

        /** A branch, tag or full 40-hex commit hash of a hub id (null = main); a local folder takes none. */
        public Options withRevision(String r) { return new Options(device, processingRes, resample, variant, r, exif, maxMemory, hub, listener, weightCheck); }

        public Options withExif(boolean e) { return new Options(device, processingRes, resample, variant, revision, e, maxMemory, hub, listener, weightCheck); }

        public Options withMaxMemory(long bytes) { return new Options(device, processingRes, resample, variant, revision, exif, bytes, hub, listener, weightCheck); }

        public Options withHub(HubConfig h) { return new Options(device, processingRes, resample, variant, revision, exif, maxMemory, h, listener, weightCheck); }

        /** false skips the NaN/Inf scan of the weights at load (non-finite outputs still fail each prediction). */
        public Options withWeightCheck(boolean check) { return new Options(device, processingRes, resample, variant, revision, exif, maxMemory, hub, listener, check); }

        public Options withListener(Listener l) { return new Options(device, processingRes, resample, variant, revision, exif, maxMemory, hub, l, weightCheck); }
    }

    private final Options options;
    private final ModelFolder folder;
    private final Backend backend;
    private final OneStepPipeline pipeline;
    private final MemoryBudget budget;
    private final Set<Task> warnedTasks = EnumSet.noneOf(Task.class);
    private boolean closed;
    /** Predictions and close() take turns in arrival order (fair), as documented. */
    private final ReentrantLock lock = new ReentrantLock(true);
    /** Guards {@link #current} between a prediction's end and {@link #cancel}. */
    private final Object calls = new Object();
    private Call current;

    private OneStep(Options options, ModelFolder folder, Backend backend, OneStepPipeline pipeline) {
        this.options = options;
        this.folder = folder;
        this.backend = backend;
        this.pipeline = pipeline;
        this.budget = (options.maxMemory() > 0 ? MemoryBudget.withLimit(options.maxMemory()) : MemoryBudget.defaults())
                .onDevice(backend, options.maxMemory() > 0);
    }

    /**
     * Loads a local diffusers folder or a Hugging Face id, ORG/NAME or ORG/NAME@REVISION (the same revision as
     * {@link Options#revision()}, when both are given; different ones are an error).
     */
    public static OneStep load(String modelOrId, Options options) {
        Objects.requireNonNull(modelOrId, "modelOrId");
        return load(ModelLocator.locate(modelOrId, options.revision(), options.variant(), options.hub(), options.listener()), options);
    }

    /** Loads a local diffusers folder. */
    public static OneStep load(Path modelDir, Options options) {
        ModelFolder folder = ModelFolder.open(modelDir, options.variant());
        Backend backend = Backends.create(options.device(), options.listener()::info);
        try {
            OneStepPipeline pipeline = OneStepPipeline.load(folder, backend, options.weightCheck());
            for (String w : folder.warnings()) options.listener().warning(w);
            return new OneStep(options, folder, backend, pipeline);
        } catch (RuntimeException | Error e) {
            backend.close();
            throw e;
        }
    }

    /** The local model folder in use (a hub cache snapshot for an id). */
    public Path modelDir() { return folder.dir(); }

    /** The task the checkpoint appears to be fine-tuned for, or null when its metadata does not say. */
    public Task likelyTask() {
        TaskHint.Guess g = TaskHint.guess(folder.dir());
        return g == null ? null : g.task();
    }

    public Options options() { return options; }

    /** Depth for an image file (EXIF orientation per {@link Options#exif()}). */
    public DepthMap predictDepth(Path image) throws IOException {
        Prediction p = run(readChecked(image), Task.DEPTH);
        return new DepthMap(p.data(), p.width(), p.height(), p.times());
    }

    /** Depth for an in-memory image. */
    public DepthMap predictDepth(BufferedImage image) {
        Prediction p = run(fromBuffered(image), Task.DEPTH);
        return new DepthMap(p.data(), p.width(), p.height(), p.times());
    }

    /** Depth for RGB planes [3, H, W] (channels first, row-major) with values in [0, 1]. */
    public DepthMap predictDepth(float[] rgbChw, int width, int height) {
        Prediction p = run(fromFloats(rgbChw, width, height), Task.DEPTH);
        return new DepthMap(p.data(), p.width(), p.height(), p.times());
    }

    /** Normals for an image file. */
    public NormalMap predictNormals(Path image) throws IOException {
        Prediction p = run(readChecked(image), Task.NORMALS);
        return new NormalMap(p.data(), p.width(), p.height(), p.times());
    }

    /** Normals for an in-memory image. */
    public NormalMap predictNormals(BufferedImage image) {
        Prediction p = run(fromBuffered(image), Task.NORMALS);
        return new NormalMap(p.data(), p.width(), p.height(), p.times());
    }

    /** Normals for RGB planes [3, H, W] with values in [0, 1]. */
    public NormalMap predictNormals(float[] rgbChw, int width, int height) {
        Prediction p = run(fromFloats(rgbChw, width, height), Task.NORMALS);
        return new NormalMap(p.data(), p.width(), p.height(), p.times());
    }

    private RgbImage readChecked(Path file) throws IOException {
        return ImageLoader.load(file, options.exif(), (w, h) -> budget.check(file.toString(), w, h, options.processingRes(), folder.vae()));
    }

    private RgbImage fromBuffered(BufferedImage bi) {
        Objects.requireNonNull(bi, "image");
        budget.check("image", bi.getWidth(), bi.getHeight(), options.processingRes(), folder.vae());
        return ImageLoader.fromBufferedImage(bi);
    }

    /** [0, 1] floats to the 8-bit image the reference works on: round(v·255), clipped; NaN → 0. */
    private RgbImage fromFloats(float[] chw, int w, int h) {
        Objects.requireNonNull(chw, "rgbChw");
        budget.check("image", w, h, options.processingRes(), folder.vae());
        if (chw.length != 3L * w * h) throw new IllegalArgumentException(chw.length + " values for a 3×" + h + "×" + w + " image");
        byte[] planes = new byte[chw.length];
        for (int i = 0; i < chw.length; i++) {
            float v = chw[i];
            planes[i] = (byte) (Float.isNaN(v) ? 0 : Math.round(Math.min(1f, Math.max(0f, v)) * 255f));
        }
        return new RgbImage(planes, w, h, "float image");
    }

    private Prediction run(RgbImage img, Task task) {
        acquire();
        Call call = new Call(Thread.currentThread());
        try {
            if (closed) throw new IllegalStateException("this OneStep instance is closed");
            budget.check(img.name(), img.width(), img.height(), options.processingRes(), folder.vae());
            if (warnedTasks.add(task)) {
                String w = TaskHint.mismatch(folder.dir(), task);
                if (w != null) options.listener().warning(w);
            }
            synchronized (calls) {
                current = call;
            }
            Prediction p = pipeline.predict(img, task, options.processingRes(), options.resample(), null);
            if (call.cancelled) throw cancelled(null);
            return p;
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
    public long liveMemoryBytes() { return backend.liveMemoryBytes(); }

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
            try {
                pipeline.close();
            } finally {
                backend.close();
            }
        } finally {
            lock.unlock();
        }
    }
}
