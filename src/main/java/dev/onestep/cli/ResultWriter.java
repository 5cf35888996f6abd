package dev.onestep.cli;

import dev.onestep.image.ColorLut;
import dev.onestep.io.OutputWriters;
import dev.onestep.pipeline.Prediction;
import dev.onestep.Task;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Writes one prediction's files into the output folder: {@code <stem>_depth.npy}, {@code <stem>_depth.png},
 * {@code <stem>_depth_color.png}, {@code <stem>_normals.npy}, {@code <stem>_normals.png}. Every file goes through
 * {@link OutputWriters}' temp-and-rename, so a failure (disk full, read-only folder) leaves no partial file; the
 * formats that can still be written are, and the first failure is rethrown. An interface so tests can inject a
 * failing file system.
 */
interface ResultWriter {
    void write(Prediction p, Path outDir, String stem, Set<String> formats) throws IOException;

    /** The output file name for a stem and format. */
    static String fileName(Task task, String stem, String format) {
        return switch (task.suffix() + ":" + format) {
            case "depth:npy" -> stem + "_depth.npy";
            case "depth:png16" -> stem + "_depth.png";
            case "depth:color" -> stem + "_depth_color.png";
            case "normals:npy" -> stem + "_normals.npy";
            case "normals:png" -> stem + "_normals.png";
            default -> throw new IllegalArgumentException("no format " + format + " for " + task.suffix());
        };
    }

    /** The files, depth colourised with Spectral. */
    ResultWriter FILES = files(ColorLut.SPECTRAL);

    /** The files, depth colourised with {@code lut}. */
    static ResultWriter files(ColorLut lut) {
        return (p, outDir, stem, formats) -> {
        int h = p.height(), w = p.width();
        List<IOException> problems = new ArrayList<>();
        for (String f : formats) {
            Path file = outDir.resolve(fileName(p.task(), stem, f));
            try {
                switch (p.task().suffix() + ":" + f) {
                    case "depth:npy" -> OutputWriters.depthNpy(file, p.data(), h, w);
                    case "depth:png16" -> OutputWriters.depthPng16(file, p.data(), h, w);
                    case "depth:color" -> OutputWriters.depthColor(file, p.data(), h, w, lut);
                    case "normals:npy" -> OutputWriters.normalsNpy(file, p.data(), h, w);
                    case "normals:png" -> OutputWriters.normalsPng(file, p.data(), h, w);
                    default -> throw new IllegalStateException(f);
                }
            } catch (IOException e) {
                problems.add(e);
            }
        }
        if (!problems.isEmpty()) throw problems.get(0);
        };
    }
}
