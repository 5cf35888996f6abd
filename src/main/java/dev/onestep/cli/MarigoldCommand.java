package dev.onestep.cli;

import dev.onestep.backend.Backend;
import dev.onestep.backend.Backends;
import dev.onestep.image.ImageLoader;
import dev.onestep.image.Resize;
import dev.onestep.io.ModelFolder;
import dev.onestep.io.Npy;
import dev.onestep.pipeline.DdimScheduler;
import dev.onestep.pipeline.DumpHook;
import dev.onestep.pipeline.MarigoldPipeline;
import dev.onestep.pipeline.OneStepPipeline;
import dev.onestep.pipeline.Task;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;

/** `onestep marigold`: the multi-step diffusion baseline (n DDIM steps × K ensemble members). */
@Command(name = "marigold", mixinStandardHelpOptions = true,
        description = "Multi-step Marigold baseline: N DDIM steps from noise, K-member ensembles (depth or normals).")
final class MarigoldCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--task", defaultValue = "depth", paramLabel = "depth|normals", description = "what to predict (default: ${DEFAULT-VALUE})")
    String task;

    @Option(names = "--steps", defaultValue = "10", paramLabel = "N", description = "DDIM steps (default: ${DEFAULT-VALUE}, Marigold's run.py)")
    int steps;

    @Option(names = "--ensemble", defaultValue = "10", paramLabel = "K", description = "ensemble members (default: ${DEFAULT-VALUE})")
    int ensemble;

    @Option(names = "--spacing", paramLabel = "leading|trailing|linspace",
            description = "timestep spacing (default: the model's scheduler_config.json)")
    String spacing;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "S", description = "noise seed (SplittableRandom + Box–Muller; default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--noise", paramLabel = "FILE.npy", description = "initial latents [K, 4, h/8, w/8] (e.g. from torch.randn), instead of the seed")
    Path noise;

    @Option(names = "--init", defaultValue = "gaussian", paramLabel = "gaussian|zeros", description = "initial latent when no --noise (default: ${DEFAULT-VALUE})")
    String init;

    @Option(names = "--final", defaultValue = "x0", paramLabel = "x0|prev",
            description = "decode the last step's x0 (E2E-FT) or prev_sample (original Marigold) (default: ${DEFAULT-VALUE})")
    String fin;

    @Option(names = "--model", paramLabel = "DIR|ORG/NAME",
            description = "diffusers model folder or hub id (default: prs-eth/marigold-depth-v1-0 / GonzaloMG/marigold-normals)")
    String model;

    @Option(names = "--device", defaultValue = "auto", paramLabel = "auto|cpu|cuda", description = "compute device (default: ${DEFAULT-VALUE})")
    String device;

    @Option(names = "--processing-res", defaultValue = "768", paramLabel = "N", description = "longest side for inference; 0 = native (default: ${DEFAULT-VALUE})")
    int processingRes;

    @Option(names = "--resample", defaultValue = "bilinear", paramLabel = "bilinear|bicubic|nearest", description = "resize filter (default: ${DEFAULT-VALUE})")
    String resample;

    @Option(names = "--variant", paramLabel = "fp16|bf16", description = "weight files to load")
    String variant;

    @Option(names = "--format", paramLabel = "LIST", split = ",", description = "outputs: depth npy,png16,color; normals npy,png (default: all)")
    List<String> formats;

    @Option(names = {"-o", "--output"}, defaultValue = "out", paramLabel = "OUT_DIR", description = "output folder (default: ${DEFAULT-VALUE})")
    Path outDir;

    @Option(names = "--dump", paramLabel = "DIR", description = "write the per-step latents (fixture names, NCHW) under DIR")
    Path dump;

    @Option(names = "--no-exif", description = "ignore EXIF orientation (the reference ignores it)")
    boolean noExif;

    @Option(names = {"-q", "--quiet"}, description = "print errors only")
    boolean quiet;

    @Parameters(paramLabel = "INPUT", arity = "1..*", description = "image files, folders, or - for a list on stdin")
    List<String> inputs;

    @Override
    public Integer call() throws IOException {
        PrintWriter err = spec.commandLine().getErr();
        Task t = switch (task.toLowerCase(Locale.ROOT)) {
            case "depth" -> Task.DEPTH;
            case "normals", "normal" -> Task.NORMALS;
            default -> throw new ParameterException(spec.commandLine(), "--task must be depth or normals, got '" + task + "'");
        };
        Set<String> fmt;
        MarigoldPipeline.FinalLatent finalLatent;
        MarigoldPipeline.Init initKind;
        Resize.Mode mode;
        try {
            fmt = OutputFiles.formats(t, formats);
            finalLatent = MarigoldPipeline.FinalLatent.parse(fin);
            initKind = MarigoldPipeline.Init.valueOf(init.toUpperCase(Locale.ROOT));
            mode = Resize.Mode.parse(resample);
            if (spacing != null) DdimScheduler.Spacing.parse(spacing);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        if (steps < 1 || ensemble < 1 || processingRes < 0)
            throw new ParameterException(spec.commandLine(), "--steps and --ensemble must be ≥ 1, --processing-res ≥ 0");
        float[] noiseValues = noise == null ? null : Npy.readFloats(noise);
        List<Path> files = Inputs.expand(inputs, System.in);
        if (files.isEmpty()) {
            err.println("onestep: no images found in " + inputs);
            return 1;
        }
        if (noiseValues != null && files.size() > 1)
            throw new ParameterException(spec.commandLine(), "--noise fixes the latent size, so it takes exactly one input image");
        Files.createDirectories(outDir);
        ModelFolder folder = ModelFolder.open(OutputFiles.resolveModel(model != null ? model
                : t == Task.DEPTH ? "prs-eth/marigold-depth-v1-0" : "GonzaloMG/marigold-normals", variant), variant);
        if (!quiet) for (String w : folder.warnings()) err.println("warning: " + w);

        int failed = 0;
        long start = System.nanoTime();
        try (Backend backend = Backends.create(device, quiet ? s -> {} : err::println);
             OneStepPipeline stages = OneStepPipeline.load(folder, backend)) {
            MarigoldPipeline pipeline = new MarigoldPipeline(stages);
            DdimScheduler.Spacing sp = spacing != null ? DdimScheduler.Spacing.parse(spacing) : stages.scheduler().defaultSpacing();
            MarigoldPipeline.Options o = MarigoldPipeline.Options.of(steps, ensemble, sp, processingRes)
                    .withSeed(seed).withInit(initKind).withFinal(finalLatent).withResample(mode).withNoise(noiseValues);
            if (!quiet) err.printf(Locale.ROOT, "%d step(s) × %d member(s), %s spacing, timesteps %s, final %s%n", steps, ensemble,
                    sp.name().toLowerCase(Locale.ROOT), java.util.Arrays.toString(stages.scheduler().timesteps(steps, sp)), fin);
            for (int i = 0; i < files.size(); i++) {
                Path f = files.get(i);
                try {
                    var img = ImageLoader.load(f, !noExif);
                    DumpHook hook = dump == null ? null : new DumpHook(backend, files.size() == 1 ? dump : dump.resolve(Inputs.stem(f)));
                    MarigoldPipeline.Result r = pipeline.predict(img, t, o, hook);
                    OutputFiles.write(outDir, Inputs.stem(f), r.prediction(), r.uncertainty(), fmt);
                    if (!quiet) err.printf(Locale.ROOT, "[%d/%d] %s  %d×%d  %.2f s (UNet %.2f s)%n", i + 1, files.size(), f.getFileName(),
                            img.width(), img.height(), r.prediction().times().totalMs() / 1000, r.prediction().times().unetMs() / 1000);
                } catch (Exception | OutOfMemoryError e) { // one image too large must not end the run
                    failed++;
                    err.println("error: " + f + ": " + Main.message(e));
                    if (System.getenv("ONESTEP_DEBUG") != null) e.printStackTrace(err);
                }
                err.flush();
            }
        }
        if (!quiet) err.printf(Locale.ROOT, "%d image(s), %d failed, %.2f s total%n", files.size(), failed, (System.nanoTime() - start) / 1e9);
        return failed == 0 ? 0 : 1;
    }
}
