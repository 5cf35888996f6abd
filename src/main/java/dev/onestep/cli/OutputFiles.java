package dev.onestep.cli;

import dev.onestep.io.HubCache;
import dev.onestep.io.OutputWriters;
import dev.onestep.pipeline.Prediction;
import dev.onestep.pipeline.Task;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Result-file naming and writing shared by the commands that predict maps (`marigold`, and a candidate for
 * `depth` / `normals`): &lt;stem&gt;_depth.npy|.png|_color.png, &lt;stem&gt;_normals.npy|.png, and
 * &lt;stem&gt;_&lt;task&gt;_uncertainty.npy for ensembles; plus model-argument resolution.
 */
final class OutputFiles {
    private OutputFiles() {}

    /** The formats a task can write, in default order. */
    static String allFormats(Task task) { return task == Task.DEPTH ? "npy,png16,color" : "npy,png"; }

    /** Validates the --format list against the task (null = all of them); throws IllegalArgumentException. */
    static Set<String> formats(Task task, List<String> asked) {
        String all = allFormats(task);
        Set<String> allowed = new LinkedHashSet<>(List.of(all.split(",")));
        Set<String> fmt = new LinkedHashSet<>();
        for (String f : asked == null ? List.of(all.split(",")) : asked) {
            String s = f.trim().toLowerCase(Locale.ROOT);
            if (!allowed.contains(s))
                throw new IllegalArgumentException("unknown format '" + f + "' for " + task.suffix() + " (allowed: " + all + ")");
            fmt.add(s);
        }
        return fmt;
    }

    /** Writes a prediction in the given formats, and the uncertainty [H, W] as .npy when non-null. */
    static void write(Path outDir, String stem, Prediction p, float[] uncertainty, Set<String> fmt) throws IOException {
        int h = p.height(), w = p.width();
        List<IOException> problems = new ArrayList<>();
        for (String f : fmt) {
            try {
                if (p.task() == Task.DEPTH) {
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
        if (uncertainty != null) {
            try {
                OutputWriters.depthNpy(outDir.resolve(stem + "_" + p.task().suffix() + "_uncertainty.npy"), uncertainty, h, w);
            } catch (IOException e) {
                problems.add(e);
            }
        }
        if (!problems.isEmpty()) throw problems.get(0);
    }

    /** A model argument: an existing folder, or a Hugging Face id looked up in the local hub cache. */
    static Path resolveModel(String m) {
        if (HubCache.looksLikeId(m) && !Files.isDirectory(Path.of(m))) return HubCache.resolve(m);
        Path p = Path.of(m);
        if (!Files.isDirectory(p)) throw new dev.onestep.io.WeightsException("model folder " + p + " does not exist");
        return p;
    }
}
