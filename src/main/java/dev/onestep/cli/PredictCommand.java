package dev.onestep.cli;

import dev.onestep.backend.Backend;
import dev.onestep.backend.Backends;
import dev.onestep.image.ImageLoader;
import dev.onestep.image.Resize;
import dev.onestep.image.RgbImage;
import dev.onestep.image.ImageProbe;
import dev.onestep.io.ModelLocator;
import dev.onestep.io.TaskHint;
import dev.onestep.io.hub.HubConfig;
import dev.onestep.pipeline.MemoryBudget;
import dev.onestep.io.ModelFolder;
import dev.onestep.pipeline.DumpHook;
import dev.onestep.pipeline.OneStepPipeline;
import dev.onestep.pipeline.Prediction;
import dev.onestep.pipeline.Task;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;

/** Shared body of `depth` and `normals`: load once, predict every input, write the requested formats. */
abstract class PredictCommand implements Callable<Integer> {
    private final Task task;
    private final String defaultModel;

    @Spec
    CommandSpec spec;

    /** Where results go; tests swap in a failing writer. */
    ResultWriter writer = ResultWriter.FILES;

    @Option(names = "--model", paramLabel = "DIR|ORG/NAME",
            description = "diffusers model folder, or a Hugging Face id: taken from the hub cache (HF_HOME / HF_HUB_CACHE), downloaded there when missing (default: this task's E2E-FT checkpoint)")
    String model;

    @Option(names = "--device", defaultValue = "auto", paramLabel = "auto|cpu|cuda", description = "compute device (default: ${DEFAULT-VALUE})")
    String device;

    @Option(names = "--processing-res", defaultValue = "768", paramLabel = "N",
            description = "longest side the image is resized to before inference; 0 = native size (default: ${DEFAULT-VALUE})")
    int processingRes;

    @Option(names = "--dtype", defaultValue = "fp32", paramLabel = "fp32|bf16|fp16", description = "compute precision (default: ${DEFAULT-VALUE})")
    String dtype;

    @Option(names = "--variant", paramLabel = "fp16|bf16", description = "weight files to load (e.g. *.fp16.safetensors)")
    String variant;

    @Option(names = "--resample", defaultValue = "bilinear", paramLabel = "bilinear|bicubic|nearest",
            description = "resize filter, both ways (default: ${DEFAULT-VALUE})")
    String resample;

    @Option(names = "--format", paramLabel = "LIST", split = ",",
            description = "outputs: depth npy,png16,color; normals npy,png (default: all of the task's)")
    List<String> formats;

    @Option(names = {"-o", "--output"}, defaultValue = "out", paramLabel = "OUT_DIR", description = "output folder (default: ${DEFAULT-VALUE})")
    Path outDir;

    @Option(names = "--dump", paramLabel = "DIR",
            description = "write every stage and intermediate activation as .npy (fixture names, NCHW) under DIR")
    Path dump;

    @Option(names = "--no-exif", description = "ignore EXIF orientation (the reference pipeline ignores it)")
    boolean noExif;

    @Option(names = {"-q", "--quiet"}, description = "print errors only")
    boolean quiet;

    @Option(names = "--max-memory", paramLabel = "SIZE",
            description = "refuse images whose activations would need more (e.g. 8g; default: 80% of physical memory)")
    String maxMemory;

    @Option(names = "--offline", description = "never use the network (as HF_HUB_OFFLINE=1): the model must be cached or local")
    boolean offline;

    @Parameters(paramLabel = "INPUT", arity = "1..*", description = "image files, folders (searched recursively), or - for a list on stdin")
    List<String> inputs;

    PredictCommand(Task task, String defaultModel) {
        this.task = task;
        this.defaultModel = defaultModel;
    }

    @Override
    public Integer call() throws IOException {
        Progress out = new Progress(spec.commandLine().getErr(), Progress.isTerminal(), quiet);
        Set<String> fmt = checkFormats();
        Resize.Mode mode = Resize.Mode.parse(resample);
        if (processingRes < 0) throw new ParameterException(spec.commandLine(), "--processing-res must be ≥ 0");
        dev.onestep.tensor.DType.parseCompute(dtype);
        MemoryBudget budget = memoryBudget();
        List<Path> files = Inputs.expand(inputs, System.in);
        if (files.isEmpty()) {
            out.error("onestep: no images found in " + inputs);
            return 1;
        }
        prepareOutputFolder();

        HubConfig hub = HubConfig.fromEnvironment();
        if (offline) hub = hub.withOffline(true);
        Path modelDir = ModelLocator.locate(model != null ? model : defaultModel, variant, hub, out);
        ModelFolder folder = ModelFolder.open(modelDir, variant);
        String mismatch = TaskHint.mismatch(modelDir, task);
        if (mismatch != null) out.line("warning: " + mismatch);

        Map<Path, String> stems = Inputs.outputStems(files);
        try (Backend backend = Backends.create(device, dev.onestep.tensor.DType.parseCompute(dtype), out::line);
             OneStepPipeline pipeline = OneStepPipeline.load(folder, backend)) {
            for (String w : folder.warnings()) out.line("warning: " + w);
            if (!dtype.equals("fp32") && backend.name().equals("cpu"))
                out.line("note: the CPU backend computes in fp32; --dtype " + dtype + " applies on CUDA");
            for (Path f : files) {
                try {
                    int[] size = ImageProbe.size(f);
                    if (size != null) budget.check(f.toString(), size[0], size[1], processingRes, folder.vae());
                    RgbImage img = ImageLoader.load(f, !noExif);
                    DumpHook hook = dump == null ? null : new DumpHook(backend, files.size() == 1 ? dump : dump.resolve(stems.get(f)));
                    Prediction p = pipeline.predict(img, task, processingRes, mode, hook);
                    writer.write(p, outDir, stems.get(f), fmt);
                    out.imageDone(files.size(), f, p);
                } catch (Exception | OutOfMemoryError e) { // one image too large must not end the run
                    out.imageFailed(files.size(), f, Main.message(e));
                    if (System.getenv("ONESTEP_DEBUG") != null) e.printStackTrace(spec.commandLine().getErr());
                }
            }
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

    private void prepareOutputFolder() throws IOException {
        if (Files.exists(outDir) && !Files.isDirectory(outDir))
            throw new IOException("output folder " + outDir + " is a file, not a folder");
        try {
            Files.createDirectories(outDir);
        } catch (IOException e) {
            throw new IOException("cannot create the output folder " + outDir + ": " + e.getMessage(), e);
        }
        if (!Files.isWritable(outDir)) throw new IOException("output folder " + outDir + " is not writable");
    }

    private Set<String> checkFormats() {
        try {
            return OutputFiles.formats(task, formats);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
    }
}
