package dev.onestep.cli;

import dev.onestep.backend.Backend;
import dev.onestep.backend.Backends;
import dev.onestep.image.ImageLoader;
import dev.onestep.image.Resize;
import dev.onestep.image.RgbImage;
import dev.onestep.io.HubCache;
import dev.onestep.io.ModelFolder;
import dev.onestep.io.OutputWriters;
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
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;

/** Shared body of `depth` and `normals`: load once, predict every input, write the requested formats. */
abstract class PredictCommand implements Callable<Integer> {
    private final Task task;
    private final String defaultModel;
    private final String defaultFormats;

    @Spec
    CommandSpec spec;

    @Option(names = "--model", paramLabel = "DIR|ORG/NAME",
            description = "diffusers model folder, or a Hugging Face id found in the local hub cache (default: ${DEFAULT-VALUE} for this task)")
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

    @Parameters(paramLabel = "INPUT", arity = "1..*", description = "image files, folders (searched recursively), or - for a list on stdin")
    List<String> inputs;

    PredictCommand(Task task, String defaultModel, String defaultFormats) {
        this.task = task;
        this.defaultModel = defaultModel;
        this.defaultFormats = defaultFormats;
    }

    @Override
    public Integer call() throws IOException {
        PrintWriter err = spec.commandLine().getErr();
        Set<String> fmt = checkFormats();
        Resize.Mode mode = Resize.Mode.parse(resample);
        if (processingRes < 0) throw new ParameterException(spec.commandLine(), "--processing-res must be ≥ 0");
        dev.onestep.tensor.DType.parseCompute(dtype);
        List<Path> files = Inputs.expand(inputs, System.in);
        if (files.isEmpty()) {
            err.println("onestep: no images found in " + inputs);
            return 1;
        }
        Files.createDirectories(outDir);
        if (!Files.isWritable(outDir)) throw new IOException("output folder " + outDir + " is not writable");

        Path modelDir = resolveModel();
        ModelFolder folder = ModelFolder.open(modelDir, variant);
        if (!quiet) for (String w : folder.warnings()) err.println("warning: " + w);
        warnOnTaskMismatch(modelDir, err);

        int failed = 0;
        long start = System.nanoTime();
        double[] stageSums = new double[5];
        try (Backend backend = Backends.create(device, quiet ? s -> {} : err::println);
             OneStepPipeline pipeline = OneStepPipeline.load(folder, backend)) {
            if (!quiet && !dtype.equals("fp32") && backend.name().equals("cpu"))
                err.println("note: the CPU backend computes in fp32; --dtype " + dtype + " applies on CUDA");
            for (int i = 0; i < files.size(); i++) {
                Path f = files.get(i);
                try {
                    RgbImage img = ImageLoader.load(f, !noExif);
                    DumpHook hook = dump == null ? null : new DumpHook(backend, files.size() == 1 ? dump : dump.resolve(Inputs.stem(f)));
                    Prediction p = pipeline.predict(img, task, processingRes, mode, hook);
                    write(p, Inputs.stem(f), fmt);
                    Prediction.StageTimes t = p.times();
                    stageSums[0] += t.preprocessMs(); stageSums[1] += t.encodeMs(); stageSums[2] += t.unetMs();
                    stageSums[3] += t.decodeMs(); stageSums[4] += t.postprocessMs();
                    if (!quiet) progress(err, i + 1, files.size(), f, p, start);
                } catch (Exception e) {
                    failed++;
                    err.println("error: " + f + ": " + Main.message(e));
                    if (System.getenv("ONESTEP_DEBUG") != null) e.printStackTrace(err);
                }
                err.flush();
            }
        }
        if (!quiet) summary(err, files.size(), failed, start, stageSums);
        return failed == 0 ? 0 : 1;
    }

    private Set<String> checkFormats() {
        Set<String> allowed = new LinkedHashSet<>(List.of(defaultFormats.split(",")));
        Set<String> fmt = new LinkedHashSet<>();
        for (String f : formats == null ? List.of(defaultFormats.split(",")) : formats) {
            String s = f.trim().toLowerCase(Locale.ROOT);
            if (!allowed.contains(s))
                throw new ParameterException(spec.commandLine(), "unknown format '" + f + "' for " + task.suffix() + " (allowed: " + defaultFormats + ")");
            fmt.add(s);
        }
        return fmt;
    }

    private Path resolveModel() {
        String m = model != null ? model : defaultModel;
        if (HubCache.looksLikeId(m)) return HubCache.resolve(m);
        Path p = Path.of(m);
        if (!Files.isDirectory(p)) throw new dev.onestep.io.WeightsException("model folder " + p + " does not exist");
        return p;
    }

    private void warnOnTaskMismatch(Path modelDir, PrintWriter err) {
        if (quiet) return;
        String name = modelDir.toAbsolutePath().toString().toLowerCase(Locale.ROOT);
        boolean saysNormals = name.contains("normal"), saysDepth = name.contains("depth");
        if (task == Task.DEPTH && saysNormals && !saysDepth)
            err.println("warning: the model's name suggests a normals checkpoint, but `depth` was asked for");
        if (task == Task.NORMALS && saysDepth && !saysNormals)
            err.println("warning: the model's name suggests a depth checkpoint, but `normals` was asked for");
    }

    private void write(Prediction p, String stem, Set<String> fmt) throws IOException {
        int h = p.height(), w = p.width();
        List<IOException> problems = new ArrayList<>();
        for (String f : fmt) {
            try {
                if (task == Task.DEPTH) {
                    switch (f) {
                        case "npy" -> OutputWriters.depthNpy(outDir.resolve(stem + "_depth.npy"), p.data(), h, w);
                        case "png16" -> OutputWriters.depthPng16(outDir.resolve(stem + "_depth.png"), p.data(), h, w);
                        case "color" -> OutputWriters.depthColor(outDir.resolve(stem + "_depth_color.png"), p.data(), h, w);
                        default -> throw new IllegalStateException(f);
                    }
                } else {
                    switch (f) {
                        case "npy" -> OutputWriters.normalsNpy(outDir.resolve(stem + "_normals.npy"), p.data(), h, w);
                        case "png" -> OutputWriters.normalsPng(outDir.resolve(stem + "_normals.png"), p.data(), h, w);
                        default -> throw new IllegalStateException(f);
                    }
                }
            } catch (IOException e) {
                problems.add(e);
            }
        }
        if (!problems.isEmpty()) throw problems.get(0);
    }

    private static void progress(PrintWriter err, int done, int total, Path f, Prediction p, long start) {
        double elapsed = (System.nanoTime() - start) / 1e9;
        double rate = done / elapsed;
        double eta = (total - done) / rate;
        err.printf(Locale.ROOT, "[%d/%d] %s  %d×%d  %.2f s  (%.2f images/s, ETA %.0f s)%n",
                done, total, f.getFileName(), p.width(), p.height(), p.times().totalMs() / 1000, rate, eta);
    }

    private static void summary(PrintWriter err, int total, int failed, long start, double[] s) {
        double secs = (System.nanoTime() - start) / 1e9;
        long peak = peakRssBytes();
        err.printf(Locale.ROOT, "%d image(s), %d failed, %.2f s total; stage totals: preprocess %.0f ms, VAE encode %.0f ms, "
                        + "UNet %.0f ms, VAE decode %.0f ms, postprocess %.0f ms; peak RSS %s%n",
                total, failed, secs, s[0], s[1], s[2], s[3], s[4], peak > 0 ? String.format(Locale.ROOT, "%.0f MB", peak / 1e6) : "n/a");
    }

    /** VmHWM from /proc/self/status (Linux), or -1. */
    static long peakRssBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        } catch (IOException | RuntimeException ignored) {
            // not Linux: no figure
        }
        return -1;
    }
}
