package dev.onestep.io;

import dev.onestep.Task;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;

/**
 * Guesses which task a checkpoint was fine-tuned for, from (in order) model_index.json (_class_name such as
 * MarigoldNormalsPipeline, or a prediction_type entry), the UNet config's _name_or_path, and the folder name (the
 * repository name for a hub cache snapshot). The weights themselves do not say: a depth and a normals UNet have
 * the same shapes. Used only to warn.
 */
public final class TaskHint {
    private TaskHint() {}

    /** A guess and the evidence for it. */
    public record Guess(Task task, String evidence) {}

    /** The guess, or null when nothing conclusive is found. */
    public static Guess guess(Path modelDir) {
        Map<String, Object> index = readQuietly(modelDir.resolve("model_index.json"));
        if (index != null) {
            Task t = fromText(index.get("_class_name"));
            if (t != null) return new Guess(t, "model_index.json _class_name " + index.get("_class_name"));
            t = fromText(index.get("prediction_type"));
            if (t != null) return new Guess(t, "model_index.json prediction_type " + index.get("prediction_type"));
        }
        Map<String, Object> unet = readQuietly(modelDir.resolve("unet").resolve("config.json"));
        if (unet != null) {
            Task t = fromText(unet.get("_name_or_path"));
            if (t != null) return new Guess(t, "unet/config.json _name_or_path " + unet.get("_name_or_path"));
        }
        String name = folderName(modelDir);
        Task t = fromText(name);
        return t == null ? null : new Guess(t, "the model name " + name);
    }

    /** A warning when the guess contradicts the requested task, else null. */
    public static String mismatch(Path modelDir, Task requested) {
        Guess g = guess(modelDir);
        if (g == null || g.task() == requested) return null;
        return requested.suffix() + " was asked for, but this looks like a " + g.task().suffix() + " checkpoint (" + g.evidence()
                + "); the output will not be meaningful " + requested.suffix() + " (use `onestep " + g.task().suffix() + "` or another --model)";
    }

    /** The repository name for hub snapshots (models--ORG--NAME/snapshots/HASH), else the folder's own name. */
    static String folderName(Path dir) {
        Path abs = dir.toAbsolutePath().normalize();
        for (Path p = abs; p != null && p.getFileName() != null; p = p.getParent()) {
            String n = p.getFileName().toString();
            if (n.startsWith("models--")) return n.substring("models--".length()).replace("--", "/");
        }
        return abs.getFileName() == null ? "" : abs.getFileName().toString();
    }

    private static Task fromText(Object o) {
        if (!(o instanceof String s)) return null;
        String l = s.toLowerCase(Locale.ROOT);
        boolean normals = l.contains("normal"), depth = l.contains("depth");
        if (normals == depth) return null;
        return normals ? Task.NORMALS : Task.DEPTH;
    }

    private static Map<String, Object> readQuietly(Path json) {
        if (!Files.isRegularFile(json)) return null;
        try {
            return JsonFields.readObject(json);
        } catch (RuntimeException e) {
            return null; // a broken config is reported by the loader, not here
        }
    }
}
