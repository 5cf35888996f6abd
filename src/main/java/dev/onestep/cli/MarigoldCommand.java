package dev.onestep.cli;

import dev.onestep.image.Resize;
import dev.onestep.io.ModelFolder;
import dev.onestep.io.Npy;
import dev.onestep.pipeline.DdimScheduler;
import dev.onestep.pipeline.MarigoldPipeline;
import dev.onestep.pipeline.Engine;
import dev.onestep.pipeline.OneStepPipeline;
import dev.onestep.Task;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

/** `onestep marigold`: the multi-step diffusion baseline (n DDIM steps × K ensemble members). */
@Command(name = "marigold", mixinStandardHelpOptions = true, resourceBundle = "dev.onestep.cli.MarigoldCommand",
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

    @Mixin
    ModelOptions models;

    @Mixin
    ImageOptions images;

    @Mixin
    OutputOptions output;

    @Option(names = "--processing-res", defaultValue = "768", paramLabel = "N", description = "longest side for inference; 0 = native (default: ${DEFAULT-VALUE})")
    int processingRes;

    @Parameters(paramLabel = "INPUT", arity = "1..*", description = "image files, folders, or - for a list on stdin")
    List<String> inputs;

    @Override
    public Integer call() throws IOException {
        Progress out = new Progress(spec.commandLine().getErr(), false, output.quiet);
        Task t = parseTask(task, spec);
        Set<String> fmt = output.formats(t);
        dev.onestep.image.ColorLut lut = output.colorLut();
        Resize.Mode mode = images.resize();
        MarigoldPipeline.FinalLatent finalLatent;
        MarigoldPipeline.Init initKind;
        try {
            finalLatent = MarigoldPipeline.FinalLatent.parse(fin);
            initKind = MarigoldPipeline.Init.valueOf(init.toUpperCase(Locale.ROOT));
            if (spacing != null) DdimScheduler.Spacing.parse(spacing);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        if (steps < 1 || ensemble < 1 || processingRes < 0)
            throw new ParameterException(spec.commandLine(), "--steps and --ensemble must be ≥ 1, --processing-res ≥ 0");
        models.computeType();
        float[] noiseValues = noise == null ? null : Npy.readFloats(noise);
        List<Path> all = ImageLoop.inputs(inputs, System.in, out);
        if (all == null) return 1;
        if (noiseValues != null && all.size() > 1)
            throw new ParameterException(spec.commandLine(), "--noise fixes the latent size, so it takes exactly one input image");
        int[] failed = {0};
        List<Path> files = ImageLoop.usable(all, (f, why) -> {
            failed[0]++;
            out.error("error: " + ImageLoop.naming(f, why));
        });
        long start = System.nanoTime();
        if (!files.isEmpty()) {
            output.prepareFolder();
            ModelFolder folder = models.open(model != null ? model
                    : t == Task.DEPTH ? "prs-eth/marigold-depth-v1-0" : "GonzaloMG/marigold-normals", out);
            Map<Path, String> stems = Inputs.outputStems(all);
            try (Engine engine = Engine.load(folder, models.device, models.computeType(), Engine.DtypeOnCpu.NOTE, models.weightCheck(), 0,
                    out::line, w -> out.line("warning: " + w))) {
                engine.noteTask(t);
                OneStepPipeline stages = engine.pipeline();
                DdimScheduler.Spacing sp = spacing != null ? DdimScheduler.Spacing.parse(spacing) : stages.scheduler().defaultSpacing();
                MarigoldPipeline.Options o = MarigoldPipeline.Options.of(steps, ensemble, sp, processingRes)
                        .withSeed(seed).withInit(initKind).withFinal(finalLatent).withResample(mode).withNoise(noiseValues);
                out.line(String.format(Locale.ROOT, "%d step(s) × %d member(s), %s spacing, timesteps %s, final %s", steps, ensemble,
                        sp.name().toLowerCase(Locale.ROOT), java.util.Arrays.toString(stages.scheduler().timesteps(steps, sp)), fin));
                failed[0] += ImageLoop.forEach(files, spec.commandLine().getErr(), (i, f) -> {
                    var img = engine.read(f, images.exif(), processingRes);
                    MarigoldPipeline.Result r = engine.multiStep().predict(img, t, o, output.dumpHook(engine.backend(), all.size(), stems.get(f)), output.mapOutput());
                    OutputFiles.write(output.outDir, stems.get(f), r.prediction(), r.uncertainty(), fmt, lut);
                    out.line(String.format(Locale.ROOT, "[%d/%d] %s  %d×%d  %.2f s (UNet %.2f s)", i + 1, files.size(), f.getFileName(),
                            img.width(), img.height(), r.prediction().times().totalMs() / 1000, r.prediction().times().unetMs() / 1000));
                }, (i, f, message) -> out.error("error: " + ImageLoop.naming(f, message)));
            }
        }
        out.line(String.format(Locale.ROOT, "%d image(s), %d failed, %.2f s total", all.size(), failed[0], (System.nanoTime() - start) / 1e9));
        return failed[0] == 0 ? 0 : 1;
    }

    /** The --task value of `marigold` and `eval`: depth, or normals (normal). */
    static Task parseTask(String task, CommandSpec spec) {
        return switch (task.toLowerCase(Locale.ROOT)) {
            case "depth" -> Task.DEPTH;
            case "normals", "normal" -> Task.NORMALS;
            default -> throw new ParameterException(spec.commandLine(), "--task must be depth or normals, got '" + task + "'");
        };
    }
}
