package dev.onestep.cli;

import dev.onestep.backend.Backend;
import dev.onestep.image.Resize;
import dev.onestep.io.ModelFolder;
import dev.onestep.pipeline.Engine;
import dev.onestep.pipeline.MemoryBudget;
import dev.onestep.pipeline.PostProcess;
import dev.onestep.pipeline.Prediction;
import dev.onestep.Task;
import dev.onestep.tensor.DType;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

/**
 * Shared body of `depth` and `normals`: check the inputs, load once ({@link Engine}, the library's own path), predict
 * every input in batches of --batch-size, write the requested formats. An input that fails is reported and the run goes on.
 */
abstract class PredictCommand implements Callable<Integer> {
    private final Task task;
    private final String defaultModel;

    @Spec
    CommandSpec spec;

    /** Where results go (null: the files, depth in --colormap); tests swap in a failing writer. */
    ResultWriter writer;

    @Option(names = "--model", paramLabel = "DIR|ORG/NAME",
            description = "diffusers model folder, or a Hugging Face id: taken from the hub cache (HF_HOME / HF_HUB_CACHE), downloaded there when missing (default: this task's E2E-FT checkpoint)")
    String model;

    @Mixin
    ModelOptions models;

    @Mixin
    ImageOptions images;

    @Mixin
    OutputOptions output;

    @Option(names = "--processing-res", defaultValue = "768", paramLabel = "N",
            description = "longest side the image is resized to before inference; 0 = native size (default: ${DEFAULT-VALUE})")
    int processingRes;

    @Option(names = "--max-memory", paramLabel = "SIZE",
            description = "refuse images whose activations would need more (e.g. 8g; default: 80%% of physical memory)")
    String maxMemory;

    @Option(names = "--batch-size", defaultValue = "1", paramLabel = "N",
            description = "images of one processing size run through the networks together, up to N at a time (fewer when "
                    + "--max-memory leaves room for fewer); each map is the one it gets alone (default: ${DEFAULT-VALUE})")
    int batchSize;

    @Option(names = "--keep-tree", description = "mirror the folders below each folder INPUT under OUT_DIR (photos/a/x.jpg → OUT_DIR/a/x_depth.png)")
    boolean keepTree;

    @Parameters(paramLabel = "INPUT", arity = "1..*", description = "image files, folders (searched recursively), or - for a list on stdin")
    List<String> inputs;

    PredictCommand(Task task, String defaultModel) {
        this.task = task;
        this.defaultModel = defaultModel;
    }

    @Override
    public Integer call() throws Exception {
        Progress out = new Progress(spec.commandLine().getErr(), Progress.isTerminal(), output.quiet);
        Set<String> fmt = output.formats(task);
        ResultWriter results = writer != null ? writer : ResultWriter.files(output.colorLut());
        Resize.Mode mode = images.resize();
        if (processingRes < 0) throw new ParameterException(spec.commandLine(), "--processing-res must be ≥ 0");
        if (batchSize < 1 || batchSize > 1024) throw new ParameterException(spec.commandLine(), "--batch-size must be 1..1024, got " + batchSize);
        if (batchSize > 1 && output.dump != null) throw new ParameterException(spec.commandLine(), "--dump writes one image's stages at a time: leave --batch-size at 1");
        DType compute = models.computeType();
        long limit = memoryLimit();
        Map<Path, Path> found = Inputs.expandWithRoots(inputs, System.in);
        if (found.isEmpty()) {
            out.error("onestep: no images found in " + inputs);
            return 1;
        }
        List<Path> all = List.copyOf(found.keySet());
        Map<Path, String> stems = Inputs.outputStems(found, keepTree, out::line);
        // inputs that cannot be read fail now, before the model loads
        List<Path> files = ImageLoop.usable(all, (f, why) -> out.imageFailed(all.size(), f, why));
        if (files.isEmpty()) {
            out.summary(all.size());
            return 1;
        }
        output.prepareFolder();

        ModelFolder folder = models.open(model != null ? model : defaultModel, out);
        try (Engine engine = Engine.load(folder, models.device, compute, Engine.DtypeOnCpu.NOTE, models.weightCheck(), limit,
                out::line, w -> out.line("warning: " + w))) {
            engine.noteTask(task);
            Backend backend = engine.backend();
            PostProcess.Output mapOutput = output.mapOutput();
            engine.batches(files.size(), batchSize, processingRes, mode,
                    i -> engine.read(files.get(i), images.exif(), processingRes),
                    (indices, batch) -> engine.pipeline().predict(batch, task,
                            output.dumpHook(backend, all.size(), stems.get(files.get(indices.get(0)))), mapOutput), // --dump: batches of 1
                    new Engine.Sink() {
                        @Override
                        public void done(int i, Prediction p) {
                            Path f = files.get(i);
                            try {
                                output.prepareSubfolder(stems.get(f));
                                results.write(p, output.outDir, stems.get(f), fmt);
                                out.imageDone(all.size(), f, p);
                            } catch (IOException | RuntimeException e) {
                                failed(i, e);
                            }
                        }

                        @Override
                        public void failed(int i, Throwable e) {
                            out.imageFailed(all.size(), files.get(i), Main.message(e));
                            if (System.getenv("ONESTEP_DEBUG") != null) e.printStackTrace(spec.commandLine().getErr());
                        }
                    });
            out.deviceMemory(backend.peakDeviceMemoryBytes());
        }
        out.summary(all.size());
        return out.failed() == 0 ? 0 : 1;
    }

    /** The --max-memory limit in bytes, or 0 for the automatic one; a value that is not a size is a usage error. */
    private long memoryLimit() {
        if (maxMemory == null) return 0;
        try {
            return MemoryBudget.parseSize(maxMemory);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--max-memory: " + e.getMessage());
        }
    }
}
