package dev.onestep.pipeline;

import dev.onestep.Task;
import dev.onestep.backend.Backend;
import dev.onestep.backend.Backends;
import dev.onestep.image.ImageLoader;
import dev.onestep.image.Resize;
import dev.onestep.image.RgbImage;
import dev.onestep.io.ModelFolder;
import dev.onestep.io.TaskHint;
import dev.onestep.tensor.DType;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * One checkpoint loaded on one backend, with its memory budget: the path every prediction takes, whether it comes
 * from the library ({@code dev.onestep.OneStep}) or a CLI command. It loads (the backend for a device and dtype, the
 * pipeline, the folder's warnings), admits images against the budget, says a task/checkpoint mismatch once per task,
 * and runs lists in batches ({@link #batches}). Not thread-safe: the library serialises calls to it.
 */
public final class Engine implements AutoCloseable {
    private final ModelFolder folder;
    private final Backend backend;
    private final boolean ownsBackend;
    private final OneStepPipeline pipeline;
    private final MarigoldPipeline multiStep;
    private final MemoryBudget budget;
    private final Consumer<String> warnings;
    private final Set<Task> warnedTasks = EnumSet.noneOf(Task.class);

    private Engine(ModelFolder folder, Backend backend, boolean ownsBackend, OneStepPipeline pipeline, long maxMemory, Consumer<String> warnings) {
        this.folder = folder;
        this.backend = backend;
        this.ownsBackend = ownsBackend;
        this.pipeline = pipeline;
        this.multiStep = new MarigoldPipeline(pipeline);
        this.warnings = warnings;
        // after the weights are on the device: its free memory is what activations have
        this.budget = (maxMemory > 0 ? MemoryBudget.withLimit(maxMemory) : MemoryBudget.defaults()).onDevice(backend, maxMemory > 0);
    }

    /** How the CPU backend answers a 16-bit compute dtype: computing in fp32 with a note, or refusing. */
    public enum DtypeOnCpu { NOTE, REFUSE }

    /**
     * Starts the backend for {@code device} ("auto", "cpu", "cuda") computing in {@code compute}, then loads the
     * checkpoint on it (owned: {@link #close} stops it).
     *
     * @param maxMemory the activation limit in bytes, or 0 for the automatic one
     * @param info      the backend's start-up lines
     * @param warnings  the folder's warnings (weights-variant fallbacks) and, later, task mismatches
     */
    public static Engine load(ModelFolder folder, String device, DType compute, DtypeOnCpu onCpu, boolean weightCheck, long maxMemory,
                              Consumer<String> info, Consumer<String> warnings) {
        Backend backend = Backends.create(device, compute, info);
        try {
            if (backend.computeType() != compute && onCpu == DtypeOnCpu.REFUSE)
                throw new IllegalArgumentException("dtype " + compute.computeName() + ": the " + backend.name() + " backend computes in "
                        + backend.computeType().computeName() + " only; use dtype(\"fp32\"), or device(\"cuda\") on a machine with a GPU");
            return load(folder, backend, true, weightCheck, maxMemory, warnings);
        } catch (RuntimeException | Error e) {
            backend.close();
            throw e;
        }
    }

    /** Loads the checkpoint on a backend the caller keeps (several engines may share one; {@link #close} leaves it running). */
    public static Engine load(ModelFolder folder, Backend backend, boolean weightCheck, long maxMemory, Consumer<String> warnings) {
        return load(folder, backend, false, weightCheck, maxMemory, warnings);
    }

    private static Engine load(ModelFolder folder, Backend backend, boolean owns, boolean weightCheck, long maxMemory, Consumer<String> warnings) {
        OneStepPipeline pipeline = OneStepPipeline.load(folder, backend, weightCheck);
        try {
            for (String w : folder.warnings()) warnings.accept(w);
            return new Engine(folder, backend, owns, pipeline, maxMemory, warnings);
        } catch (RuntimeException | Error e) {
            pipeline.close();
            throw e;
        }
    }

    public ModelFolder folder() { return folder; }

    public Backend backend() { return backend; }

    /** The one-step pipeline and its stages (the multi-step one runs on them). */
    public OneStepPipeline pipeline() { return pipeline; }

    public MarigoldPipeline multiStep() { return multiStep; }

    public MemoryBudget budget() { return budget; }

    /** Refuses an image of w × h that would not fit at {@code processingRes} (the message names the need and the limit). */
    public void admit(String name, int w, int h, int processingRes) { budget.check(name, w, h, processingRes, folder.vae()); }

    /** Reads an image file, refused by its header's size before its pixels are decoded when it would not fit. */
    public RgbImage read(Path file, boolean exif, int processingRes) throws IOException {
        RgbImage img = ImageLoader.load(file, exif, (w, h) -> admit(file.toString(), w, h, processingRes));
        admit(file.toString(), img.width(), img.height(), processingRes); // EXIF may have turned it
        return img;
    }

    /** Says, the first time {@code task} is asked of a checkpoint whose metadata names the other task, that it does. */
    public void noteTask(Task task) {
        if (warnedTasks.add(task)) {
            String w = TaskHint.mismatch(folder.dir(), task);
            if (w != null) warnings.accept(w);
        }
    }

    /** The batch for images of {@code p}'s processing size: {@code batchSize}, or fewer when the memory budget says so. */
    public int batchLimit(OneStepPipeline.Prepared p, int batchSize) {
        return Math.min(batchSize, budget.imagesThatFit(p.width(), p.height(), folder.vae()));
    }

    /** The i-th input of a list, decoded (and admitted). */
    public interface Source {
        RgbImage image(int index) throws Exception;
    }

    /** Runs one batch (of one processing size; {@code indices} are its inputs' positions) to its predictions, in order. */
    public interface Runner {
        List<Prediction> run(List<Integer> indices, List<OneStepPipeline.Prepared> batch);
    }

    /** Where results go: each input ends in exactly one of the two calls. */
    public interface Sink {
        void done(int index, Prediction p) throws Exception;

        /** The input could not be read or prepared, or its batch failed; throw to end the whole list. */
        void failed(int index, Throwable e) throws Exception;
    }

    /**
     * The one-step pipeline over {@code count} inputs in batches. Inputs are decoded and prepared (resized and
     * normalised) in order; each waits, as its processing-size tensor only, in the group of its size until the group
     * holds {@link #batchLimit} images, and the groups still waiting run at the end. So at most batchSize − 1 prepared
     * images per distinct size are held at once, and no decoded original. An input that fails goes to
     * {@link Sink#failed}; so does every input of a batch that fails.
     */
    public void batches(int count, int batchSize, int processingRes, Resize.Mode resample, Source source, Runner runner, Sink sink) throws Exception {
        Map<List<Integer>, List<Integer>> waiting = new LinkedHashMap<>();
        Map<List<Integer>, List<OneStepPipeline.Prepared>> prepared = new HashMap<>();
        for (int i = 0; i < count; i++) {
            OneStepPipeline.Prepared p;
            try {
                p = pipeline.prepare(source.image(i), processingRes, resample);
            } catch (Exception | OutOfMemoryError e) {
                sink.failed(i, e);
                continue;
            }
            List<Integer> idx = waiting.computeIfAbsent(p.size(), k -> new ArrayList<>());
            List<OneStepPipeline.Prepared> group = prepared.computeIfAbsent(p.size(), k -> new ArrayList<>());
            idx.add(i);
            group.add(p);
            if (group.size() >= batchLimit(p, batchSize)) {
                waiting.remove(p.size());
                prepared.remove(p.size());
                runBatch(idx, group, runner, sink);
            }
        }
        for (var e : waiting.entrySet()) runBatch(e.getValue(), prepared.get(e.getKey()), runner, sink);
    }

    private static void runBatch(List<Integer> indices, List<OneStepPipeline.Prepared> batch, Runner runner, Sink sink) throws Exception {
        List<Prediction> r;
        try {
            r = runner.run(List.copyOf(indices), batch);
        } catch (RuntimeException | OutOfMemoryError e) { // one batch too large must not end a CLI run
            for (int i : indices) sink.failed(i, e);
            return;
        }
        for (int k = 0; k < indices.size(); k++) sink.done(indices.get(k), r.get(k));
    }

    @Override
    public void close() {
        try {
            pipeline.close();
        } finally {
            if (ownsBackend) backend.close();
        }
    }
}
