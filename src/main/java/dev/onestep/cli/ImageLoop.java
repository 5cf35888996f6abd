package dev.onestep.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;

/**
 * The per-image loop of the commands that predict maps (`depth`, `normals`, `marigold`): every input is tried,
 * and one that fails (unreadable, too large, out of memory, a write error) is reported and the run goes on.
 */
final class ImageLoop {
    private ImageLoop() {}

    /** The work for one input; throws to report that input as failed. */
    interface Body {
        void run(int index, Path file) throws Exception;
    }

    /** Says that an input failed, with {@link Main#message} of the cause. */
    interface Failure {
        void report(int index, Path file, String message);
    }

    /** The images the INPUT arguments name, or null (said on {@code out}) when there are none. */
    static List<Path> inputs(List<String> args, InputStream stdin, Progress out) throws IOException {
        List<Path> files = Inputs.expand(args, stdin);
        if (!files.isEmpty()) return files;
        out.error("onestep: no images found in " + args);
        return null;
    }

    /**
     * The inputs that can be tried; each one that cannot ({@link Inputs#unusable}: missing, a folder, unreadable)
     * goes to {@code failed} with the reason, before any model loads.
     */
    static List<Path> usable(List<Path> files, java.util.function.BiConsumer<Path, String> failed) {
        List<Path> out = new java.util.ArrayList<>();
        for (Path f : files) {
            String why = Inputs.unusable(f);
            if (why == null) out.add(f);
            else failed.accept(f, why);
        }
        return out;
    }

    /** "FILE: message", naming the file once: messages that already start with it are kept as they are. */
    static String naming(Path file, String message) {
        return message.startsWith(file + ":") ? message : file + ": " + message;
    }

    /** Runs {@code body} for every file; returns how many failed. ONESTEP_DEBUG adds each failure's stack trace. */
    static int forEach(List<Path> files, PrintWriter err, Body body, Failure failure) {
        int failed = 0;
        for (int i = 0; i < files.size(); i++) {
            Path f = files.get(i);
            try {
                body.run(i, f);
            } catch (Exception | OutOfMemoryError e) { // one image too large must not end the run
                failed++;
                failure.report(i, f, Main.message(e));
                if (System.getenv("ONESTEP_DEBUG") != null) e.printStackTrace(err);
            }
        }
        return failed;
    }
}
