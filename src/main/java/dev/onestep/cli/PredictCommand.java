package dev.onestep.cli;

import dev.onestep.backend.Backend;
import dev.onestep.image.Resize;
import dev.onestep.image.RgbImage;
import dev.onestep.io.ModelFolder;
import dev.onestep.io.TaskHint;
import dev.onestep.pipeline.MemoryBudget;
import dev.onestep.pipeline.OneStepPipeline;
import dev.onestep.pipeline.Prediction;
import dev.onestep.pipeline.Task;
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

/** Shared body of `depth` and `normals`: load once, predict every input, write the requested formats. */
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

    @Parameters(paramLabel = "INPUT", arity = "1..*", description = "image files, folders (searched recursively), or - for a list on stdin")
    List<String> inputs;

    PredictCommand(Task task, String defaultModel) {
        this.task = task;
        this.defaultModel = defaultModel;
    }

    @Override
    public Integer call() throws IOException {
        Progress out = new Progress(spec.commandLine().getErr(), Progress.isTerminal(), output.quiet);
        Set<String> fmt = output.formats(task);
        ResultWriter results = writer != null ? writer : ResultWriter.files(output.colorLut());
        Resize.Mode mode = images.resize();
        if (processingRes < 0) throw new ParameterException(spec.commandLine(), "--processing-res must be ≥ 0");
        models.computeType();
        MemoryBudget budget = memoryBudget();
        List<Path> files = ImageLoop.inputs(inputs, System.in, out);
        if (files == null) return 1;
        output.prepareFolder();

        ModelFolder folder = models.open(model != null ? model : defaultModel, out);
        String mismatch = TaskHint.mismatch(folder.dir(), task);
        if (mismatch != null) out.line("warning: " + mismatch);

        Map<Path, String> stems = Inputs.outputStems(files);
        try (Backend backend = models.backend(out::line);
             OneStepPipeline pipeline = OneStepPipeline.load(folder, backend, models.weightCheck())) {
            for (String w : folder.warnings()) out.line("warning: " + w);
            MemoryBudget deviceBudget = budget.onDevice(backend, maxMemory != null); // after the weights are on the device
            ImageLoop.forEach(files, spec.commandLine().getErr(), (i, f) -> {
                RgbImage img = images.load(f, (w, h) -> deviceBudget.check(f.toString(), w, h, processingRes, folder.vae()));
                deviceBudget.check(f.toString(), img.width(), img.height(), processingRes, folder.vae());
                Prediction p = pipeline.predict(img, task, processingRes, mode, output.dumpHook(backend, files.size(), stems.get(f)), output.mapOutput());
                results.write(p, output.outDir, stems.get(f), fmt);
                out.imageDone(files.size(), f, p);
            }, (i, f, message) -> out.imageFailed(files.size(), f, message));
            out.deviceMemory(backend.peakDeviceMemoryBytes());
        }
        out.summary(files.size());
        return out.failed() == 0 ? 0 : 1;
    }

    private MemoryBudget memoryBudget() {
        if (maxMemory == null) return MemoryBudget.defaults();
        try {
            return MemoryBudget.withLimit(MemoryBudget.parseSize(maxMemory));
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--max-memory: " + e.getMessage());
        }
    }
}
