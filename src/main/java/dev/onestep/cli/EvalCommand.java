package dev.onestep.cli;

import dev.onestep.backend.Backend;
import dev.onestep.eval.DatasetKind;
import dev.onestep.eval.DepthMetrics;
import dev.onestep.eval.EvalDataset;
import dev.onestep.eval.NormalMetrics;
import dev.onestep.image.Resize;
import dev.onestep.image.RgbImage;
import dev.onestep.io.ModelFolder;
import dev.onestep.io.OutputWriters;
import dev.onestep.pipeline.DdimScheduler;
import dev.onestep.pipeline.MarigoldPipeline;
import dev.onestep.pipeline.Engine;
import dev.onestep.pipeline.OneStepPipeline;
import dev.onestep.pipeline.Prediction;
import dev.onestep.Task;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * `onestep eval`: affine-invariant depth (or normal) evaluation of a model on a folder (layout in
 * {@link EvalDataset}), Marigold's protocol: native resolution, fp32, per-image least-squares scale/shift,
 * per-dataset ranges and masks ({@link DatasetKind}). Prints a table, optionally writes JSON; {@code --compare}
 * puts the one-step recipe and the --steps × --ensemble recipe side by side with their time per image.
 */
@Command(name = "eval", mixinStandardHelpOptions = true, resourceBundle = "dev.onestep.cli.EvalCommand",
        description = "Evaluate depth (AbsRel, δ1…) or normals (angular error) on a dataset folder.")
final class EvalCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR|ORG/NAME", description = "diffusers model folder or hub id")
    String model;

    @Option(names = "--dataset", required = true, paramLabel = "DIR",
            description = "DIR/rgb/<stem>.png|jpg, DIR/depth/<stem>.png (16-bit, /--depth-scale m) or .npy (m), DIR/normals/<stem>.npy|png, optional DIR/mask/<stem>.png|npy")
    Path dataset;

    @Option(names = "--kind", defaultValue = "generic", paramLabel = "nyuv2|kitti|eth3d|scannet|diode|generic",
            description = "dataset protocol: depth range, crops, masks (default: ${DEFAULT-VALUE})")
    String kind;

    @Option(names = "--task", defaultValue = "depth", paramLabel = "depth|normals", description = "(default: ${DEFAULT-VALUE})")
    String task;

    @Option(names = "--steps", defaultValue = "1", paramLabel = "N", description = "DDIM steps (default: ${DEFAULT-VALUE})")
    int steps;

    @Option(names = "--ensemble", defaultValue = "1", paramLabel = "K", description = "ensemble members (default: ${DEFAULT-VALUE})")
    int ensemble;

    @Option(names = "--spacing", paramLabel = "leading|trailing|linspace",
            description = "timestep spacing (default: trailing for 1 step, else the model's scheduler config)")
    String spacing;

    @Option(names = "--init", defaultValue = "auto", paramLabel = "auto|zeros|gaussian",
            description = "initial latent; auto = zeros for 1 step × 1 member (the E2E-FT recipe), else gaussian (default: ${DEFAULT-VALUE})")
    String init;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "S", description = "noise seed (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--final", defaultValue = "x0", paramLabel = "x0|prev", description = "decoded latent of the last step (default: ${DEFAULT-VALUE})")
    String fin;

    @Option(names = "--compare", description = "also run the one-step recipe (1 step, trailing, zeros) and print both rows")
    boolean compare;

    @Option(names = "--baseline-model", paramLabel = "DIR|ORG/NAME",
            description = "with --compare: model of the multi-step row (default: --model), e.g. prs-eth/marigold-depth-v1-0")
    String baselineModel;

    @Option(names = "--processing-res", defaultValue = "0", paramLabel = "N", description = "0 = native resolution, as the paper (default: ${DEFAULT-VALUE})")
    int processingRes;

    @Option(names = "--resample", defaultValue = "bilinear", paramLabel = "bilinear|bicubic|nearest", description = "(default: ${DEFAULT-VALUE})")
    String resample;

    @Option(names = "--depth-scale", defaultValue = "1000", paramLabel = "D", description = "16-bit depth PNG value per metre (default: ${DEFAULT-VALUE}; KITTI: 256)")
    double depthScale;

    @Option(names = "--min-depth", paramLabel = "M", description = "override the kind's minimum valid depth (m)")
    Double minDepth;

    @Option(names = "--max-depth", paramLabel = "M", description = "override the kind's maximum valid depth (m)")
    Double maxDepth;

    @Option(names = "--limit", defaultValue = "0", paramLabel = "N", description = "evaluate the first N samples only (0 = all)")
    int limit;

    @Mixin
    ModelOptions models;

    @Option(names = "--json", paramLabel = "FILE", description = "write the metrics (and per-image values) as JSON")
    Path json;

    @Option(names = {"-q", "--quiet"}, description = "no progress lines")
    boolean quiet;

    /** One evaluated configuration. */
    record Row(String label, String model, int steps, int ensemble, String spacing, int images, double msPerImage,
               DepthMetrics.Scores depth, NormalMetrics.Scores normals, List<String> perImage) {}

    @Override
    public Integer call() throws IOException {
        PrintWriter err = spec.commandLine().getErr(), out = spec.commandLine().getOut();
        Task t = MarigoldCommand.parseTask(task, spec);
        DatasetKind k;
        try {
            k = DatasetKind.parse(kind);
            Resize.Mode.parse(resample);
            MarigoldPipeline.FinalLatent.parse(fin);
            if (spacing != null) DdimScheduler.Spacing.parse(spacing);
            if (!List.of("auto", "zeros", "gaussian").contains(init)) throw new IllegalArgumentException("--init must be auto, zeros or gaussian");
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        if (steps < 1 || ensemble < 1 || processingRes < 0 || depthScale <= 0)
            throw new ParameterException(spec.commandLine(), "--steps, --ensemble ≥ 1; --processing-res ≥ 0; --depth-scale > 0");
        models.computeType();
        EvalDataset data = EvalDataset.open(dataset, t == Task.NORMALS);
        List<EvalDataset.Sample> samples = limit > 0 && limit < data.samples().size() ? data.samples().subList(0, limit) : data.samples();

        List<Row> rows = new ArrayList<>();
        Progress progress = new Progress(err, Progress.isTerminal(), quiet);
        try (Backend backend = models.backend(progress::line)) {
            if (compare) rows.add(run(backend, "one-step", model, 1, 1, "trailing", "zeros", t, k, samples, progress, err));
            rows.add(run(backend, compare ? "multi-step" : "result", compare && baselineModel != null ? baselineModel : model,
                    steps, ensemble, spacing, init, t, k, samples, progress, err));
        }
        printTable(out, t, k, rows);
        out.flush();
        if (json != null) {
            String text = toJson(t, k, rows);
            dev.onestep.io.AtomicFiles.write(json, o -> o.write(text.getBytes(StandardCharsets.UTF_8)));
        }
        return 0;
    }

    private Row run(Backend backend, String label, String modelArg, int n, int members, String spacingArg, String initArg,
                    Task t, DatasetKind k, List<EvalDataset.Sample> samples, Progress progress, PrintWriter err) throws IOException {
        ModelFolder folder = models.open(modelArg, progress);
        double min = minDepth != null ? minDepth : k.minDepth, max = maxDepth != null ? maxDepth : k.maxDepth;
        DepthMetrics.Summary depthSum = new DepthMetrics.Summary();
        NormalMetrics normals = new NormalMetrics();
        List<String> perImage = new ArrayList<>();
        double totalMs = 0;
        String sp;
        try (Engine engine = Engine.load(folder, backend, models.weightCheck(), 0, w -> progress.line("warning: " + w))) {
            engine.noteTask(t);
            OneStepPipeline stages = engine.pipeline();
            MarigoldPipeline pipeline = engine.multiStep();
            DdimScheduler.Spacing spc = spacingArg != null ? DdimScheduler.Spacing.parse(spacingArg)
                    : n == 1 ? DdimScheduler.Spacing.TRAILING : stages.scheduler().defaultSpacing();
            sp = spc.name().toLowerCase(Locale.ROOT);
            boolean zeros = initArg.equals("zeros") || (initArg.equals("auto") && n == 1 && members == 1);
            MarigoldPipeline.Options o = MarigoldPipeline.Options.of(n, members, spc, processingRes)
                    .withSeed(seed).withResample(Resize.Mode.parse(resample)).withFinal(MarigoldPipeline.FinalLatent.parse(fin))
                    .withInit(zeros ? MarigoldPipeline.Init.ZEROS : MarigoldPipeline.Init.GAUSSIAN);
            for (int i = 0; i < samples.size(); i++) {
                EvalDataset.Sample s = samples.get(i);
                RgbImage img = engine.read(s.rgb(), false, processingRes);
                EvalDataset.Map gt = t == Task.DEPTH ? EvalDataset.readDepth(s.gt(), depthScale) : EvalDataset.readNormals(s.gt());
                boolean[] mask = EvalDataset.readMask(s.mask(), gt.height(), gt.width());
                if (k.benchmarkCrop()) {
                    int[] o0 = DatasetKind.benchmarkCropOrigin(gt.height(), gt.width());
                    int ch = DatasetKind.KB_CROP_HEIGHT, cw = DatasetKind.KB_CROP_WIDTH;
                    mask = EvalDataset.crop(mask, gt.width(), o0[0], o0[1], ch, cw);
                    gt = EvalDataset.crop(gt, o0[0], o0[1], ch, cw);
                    img = cropImage(img, o0[0], o0[1], ch, cw);
                }
                if (img.width() != gt.width() || img.height() != gt.height())
                    throw new IOException(s.stem() + ": image " + img.width() + "×" + img.height() + " but ground truth " + gt.width() + "×" + gt.height());
                long t0 = System.nanoTime();
                Prediction p = pipeline.predict(img, t, o, null).prediction();
                double ms = (System.nanoTime() - t0) / 1e6;
                totalMs += ms;
                String line;
                if (t == Task.DEPTH) {
                    boolean[] valid = k.validMask(gt.data(), gt.height(), gt.width(), min, max, mask);
                    DepthMetrics.Scores sc = DepthMetrics.evaluate(p.data(), gt.data(), valid, gt.height(), gt.width(), min, max, k.alignMaxRes);
                    depthSum.add(sc);
                    line = String.format(Locale.ROOT, "AbsRel %.4f  δ1 %.4f", sc.absRel(), sc.delta1());
                    perImage.add(String.format(Locale.ROOT, "{\"stem\": %s, \"abs_rel\": %s, \"sq_rel\": %s, \"rmse\": %s, \"delta1\": %s, \"delta2\": %s, \"delta3\": %s, \"pixels\": %d, \"ms\": %.1f}",
                            quote(s.stem()), num(sc.absRel()), num(sc.sqRel()), num(sc.rmse()), num(sc.delta1()), num(sc.delta2()), num(sc.delta3()), sc.pixels(), ms));
                } else {
                    boolean[] valid = EvalDataset.normalsValid(gt);
                    if (mask != null) for (int j = 0; j < valid.length; j++) valid[j] &= mask[j];
                    NormalMetrics.Scores sc = normals.add(p.data(), gt.data(), valid, gt.height() * gt.width());
                    line = String.format(Locale.ROOT, "mean %.2f°  median %.2f°", sc.mean(), sc.median());
                    perImage.add(String.format(Locale.ROOT, "{\"stem\": %s, \"mean\": %s, \"median\": %s, \"pixels\": %d, \"ms\": %.1f}",
                            quote(s.stem()), num(sc.mean()), num(sc.median()), sc.pixels(), ms));
                }
                if (!quiet) {
                    err.printf(Locale.ROOT, "[%s %d/%d] %s  %s  %.0f ms%n", label, i + 1, samples.size(), s.stem(), line, ms);
                    err.flush();
                }
            }
        }
        int nImg = samples.size();
        return new Row(label, modelArg, n, members, sp, nImg, totalMs / Math.max(1, nImg),
                t == Task.DEPTH ? depthSum.mean() : null, t == Task.NORMALS ? normals.scores() : null, perImage);
    }

    static RgbImage cropImage(RgbImage img, int top, int left, int ch, int cw) {
        byte[] out = new byte[3 * ch * cw];
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < ch; y++)
                System.arraycopy(img.planes(), (c * img.height() + top + y) * img.width() + left, out, (c * ch + y) * cw, cw);
        return new RgbImage(out, cw, ch, img.name());
    }

    private static void printTable(PrintWriter out, Task t, DatasetKind k, List<Row> rows) {
        if (t == Task.DEPTH) {
            out.printf(Locale.ROOT, "%-10s %-8s %6s %-16s %8s %8s %8s %7s %7s %7s %10s%n",
                    "recipe", "dataset", "images", "steps×K spacing", "AbsRel", "SqRel", "RMSE", "δ1", "δ2", "δ3", "ms/image");
            for (Row r : rows) {
                DepthMetrics.Scores s = r.depth();
                out.printf(Locale.ROOT, "%-10s %-8s %6d %-16s %8.4f %8.4f %8.4f %7.4f %7.4f %7.4f %10.0f%n", r.label(), k.label(), r.images(),
                        r.steps() + "×" + r.ensemble() + " " + r.spacing(), s.absRel(), s.sqRel(), s.rmse(), s.delta1(), s.delta2(), s.delta3(), r.msPerImage());
            }
        } else {
            out.printf(Locale.ROOT, "%-10s %-8s %6s %-16s %7s %7s %7s %7s %7s %7s %7s %7s %10s%n", "recipe", "dataset", "images",
                    "steps×K spacing", "mean°", "median°", "RMSE°", "<5", "<7.5", "<11.25", "<22.5", "<30", "ms/image");
            for (Row r : rows) {
                NormalMetrics.Scores s = r.normals();
                double[] b = s.percentBelow();
                out.printf(Locale.ROOT, "%-10s %-8s %6d %-16s %7.2f %7.2f %7.2f %7.2f %7.2f %7.2f %7.2f %7.2f %10.0f%n", r.label(), k.label(),
                        r.images(), r.steps() + "×" + r.ensemble() + " " + r.spacing(), s.mean(), s.median(), s.rmse(), b[0], b[1], b[2], b[3], b[4], r.msPerImage());
            }
        }
    }

    private String toJson(Task t, DatasetKind k, List<Row> rows) {
        StringBuilder sb = new StringBuilder("{\n  \"dataset\": ").append(quote(dataset.toString()))
                .append(",\n  \"kind\": ").append(quote(k.label()))
                .append(",\n  \"task\": ").append(quote(t.suffix()))
                .append(",\n  \"processing_res\": ").append(processingRes)
                .append(",\n  \"runs\": [");
        for (int i = 0; i < rows.size(); i++) {
            Row r = rows.get(i);
            sb.append(i == 0 ? "\n" : ",\n").append("    {\"recipe\": ").append(quote(r.label()))
                    .append(", \"model\": ").append(quote(r.model()))
                    .append(", \"steps\": ").append(r.steps()).append(", \"ensemble\": ").append(r.ensemble())
                    .append(", \"spacing\": ").append(quote(r.spacing())).append(", \"images\": ").append(r.images())
                    .append(", \"ms_per_image\": ").append(num(r.msPerImage())).append(",\n     \"metrics\": ");
            if (r.depth() != null) {
                DepthMetrics.Scores s = r.depth();
                sb.append(String.format(Locale.ROOT, "{\"abs_rel\": %s, \"sq_rel\": %s, \"rmse\": %s, \"delta1\": %s, \"delta2\": %s, \"delta3\": %s}",
                        num(s.absRel()), num(s.sqRel()), num(s.rmse()), num(s.delta1()), num(s.delta2()), num(s.delta3())));
            } else {
                NormalMetrics.Scores s = r.normals();
                double[] b = s.percentBelow();
                sb.append(String.format(Locale.ROOT, "{\"mean\": %s, \"median\": %s, \"rmse\": %s, \"below_5\": %s, \"below_7_5\": %s, \"below_11_25\": %s, \"below_22_5\": %s, \"below_30\": %s, \"pixels\": %d}",
                        num(s.mean()), num(s.median()), num(s.rmse()), num(b[0]), num(b[1]), num(b[2]), num(b[3]), num(b[4]), s.pixels()));
            }
            sb.append(",\n     \"per_image\": [");
            for (int j = 0; j < r.perImage().size(); j++) sb.append(j == 0 ? "\n       " : ",\n       ").append(r.perImage().get(j));
            sb.append("]}");
        }
        return sb.append("\n  ]\n}\n").toString();
    }

    private static String num(double v) { return Double.isFinite(v) ? Double.toString(v) : "null"; }

    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }
}
