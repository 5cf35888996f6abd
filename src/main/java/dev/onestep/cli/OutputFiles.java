package dev.onestep.cli;

import dev.onestep.io.OutputWriters;
import dev.onestep.pipeline.Prediction;
import dev.onestep.Task;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Result-file formats and writing shared by the commands that predict maps (`depth`, `normals`, `marigold`):
 * &lt;stem&gt;_depth.npy|.png|_color.png, &lt;stem&gt;_normals.npy|.png, and &lt;stem&gt;_&lt;task&gt;_uncertainty.npy
 * for ensembles.
 */
final class OutputFiles {
    private OutputFiles() {}

    /** The formats a task can write, in default order. */
    static String allFormats(Task task) { return task == Task.DEPTH ? "npy,png16,color" : "npy,png"; }

    /**
     * Validates the --format list against the task (null = all of them); throws IllegalArgumentException. For depth,
     * png is another name of png16 (its grey map is 16-bit); normals' png is 8-bit RGB.
     */
    static Set<String> formats(Task task, List<String> asked) {
        String all = allFormats(task);
        Set<String> allowed = new LinkedHashSet<>(List.of(all.split(",")));
        Set<String> fmt = new LinkedHashSet<>();
        for (String f : asked == null ? List.of(all.split(",")) : asked) {
            String s = f.trim().toLowerCase(Locale.ROOT);
            if (task == Task.DEPTH && s.equals("png")) s = "png16"; // depth's one PNG map is the 16-bit one: both names mean it
            if (!allowed.contains(s))
                throw new IllegalArgumentException("unknown format '" + f + "' for " + task.suffix() + " (allowed: " + all
                        + (task == Task.DEPTH ? "; png = png16" : "") + ")");
            fmt.add(s);
        }
        return fmt;
    }

    /** Writes a prediction in the given formats ({@link ResultWriter#FILES}), and the uncertainty [H, W] as .npy when non-null. */
    static void write(Path outDir, String stem, Prediction p, float[] uncertainty, Set<String> fmt, dev.onestep.image.ColorLut lut) throws IOException {
        IOException first = null;
        try {
            ResultWriter.files(lut).write(p, outDir, stem, fmt);
        } catch (IOException e) {
            first = e;
        }
        if (uncertainty != null) {
            try {
                OutputWriters.depthNpy(outDir.resolve(stem + "_" + p.task().suffix() + "_uncertainty.npy"), uncertainty, p.height(), p.width());
            } catch (IOException e) {
                if (first == null) first = e;
            }
        }
        if (first != null) throw first;
    }
}
