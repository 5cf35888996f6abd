package dev.onestep.cli;

import dev.onestep.io.hub.DownloadListener;
import dev.onestep.pipeline.MemoryBudget;
import dev.onestep.pipeline.Prediction;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * What a run tells the user on stderr: download progress, one status per image with images/s and ETA, and a
 * summary. On a terminal each is a single line redrawn in place; otherwise (a pipe, a log file) one line per
 * image or file. {@code quiet} silences everything except what the caller prints as errors.
 */
final class Progress implements DownloadListener {
    private static final long REDRAW_NANOS = 200_000_000L;

    private final PrintWriter err;
    private final boolean tty, quiet;
    private final long start = System.nanoTime();
    private final double[] stageMs = new double[5];
    private int done, failed;
    private long lastDraw;
    private boolean lineOpen;
    private long downloadStart;

    Progress(PrintWriter err, boolean tty, boolean quiet) {
        this.err = err;
        this.tty = tty;
        this.quiet = quiet;
    }

    int failed() { return failed; }

    /** Whether stderr is an interactive terminal. */
    static boolean isTerminal() {
        java.io.Console c = System.console();
        return c != null && c.isTerminal();
    }

    /** A message on its own line (after an in-place line, if any). */
    void line(String s) {
        if (quiet) return;
        endLine();
        err.println(s);
        err.flush();
    }

    /** An error, shown even when quiet. */
    void error(String s) {
        endLine();
        err.println(s);
        err.flush();
    }

    void imageDone(int total, Path file, Prediction p) {
        done++;
        Prediction.StageTimes t = p.times();
        stageMs[0] += t.preprocessMs();
        stageMs[1] += t.encodeMs();
        stageMs[2] += t.unetMs();
        stageMs[3] += t.decodeMs();
        stageMs[4] += t.postprocessMs();
        status(total, String.format(Locale.ROOT, "%s %d×%d %.2f s", file.getFileName(), p.width(), p.height(), t.totalMs() / 1000));
    }

    void imageFailed(int total, Path file, String message) {
        failed++;
        error("error: " + ImageLoop.naming(file, message));
        status(total, file.getFileName() + " FAILED");
    }

    private void status(int total, String what) {
        if (quiet) return;
        int n = done + failed;
        double elapsed = (System.nanoTime() - start) / 1e9;
        double rate = n / Math.max(elapsed, 1e-9);
        String s = String.format(Locale.ROOT, "[%d/%d] %s  (%.2f images/s, ETA %s)", n, total, what, rate, duration((total - n) / rate));
        if (tty) {
            err.print("\r" + s + "\033[K");
            lineOpen = n < total;
            if (!lineOpen) err.println();
        } else {
            err.println(s);
        }
        err.flush();
    }

    private long devicePeak = -1;

    /** A device backend's peak of device memory (weights + activations + allocator cache), for the summary. */
    void deviceMemory(long peakBytes) { devicePeak = peakBytes; }

    /** The end-of-run summary: counts, time, per-stage totals and averages, peak memory. */
    void summary(int total) {
        if (quiet) return;
        endLine();
        double secs = (System.nanoTime() - start) / 1e9;
        int ok = Math.max(done, 1);
        long rss = peakRssBytes();
        err.printf(Locale.ROOT, "%d image(s): %d written, %d failed in %s (%.2f images/s)%n", total, done, failed, duration(secs), total / Math.max(secs, 1e-9));
        err.printf(Locale.ROOT, "time per stage, total (per image): preprocess %.0f ms (%.0f), VAE encode %.0f ms (%.0f), UNet %.0f ms (%.0f), "
                        + "VAE decode %.0f ms (%.0f), postprocess %.0f ms (%.0f)%n",
                stageMs[0], stageMs[0] / ok, stageMs[1], stageMs[1] / ok, stageMs[2], stageMs[2] / ok, stageMs[3], stageMs[3] / ok, stageMs[4], stageMs[4] / ok);
        err.printf(Locale.ROOT, "peak memory: %s%s resident, heap %s of %s max%n",
                devicePeak > 0 ? MemoryBudget.human(devicePeak) + " on the device, " : "",
                rss > 0 ? MemoryBudget.human(rss) : "n/a",
                MemoryBudget.human(Runtime.getRuntime().totalMemory() - Runtime.getRuntime().freeMemory()),
                MemoryBudget.human(Runtime.getRuntime().maxMemory()));
        err.flush();
    }

    // ---- downloads ----

    @Override
    public void downloadStarted(String repo, int files, long bytes) {
        downloadStart = System.nanoTime();
        line("Downloading " + repo + ": " + files + " file(s)" + (bytes >= 0 ? ", " + MemoryBudget.human(bytes) : ""));
    }

    @Override
    public void fileProgress(String file, long doneBytes, long total) {
        if (quiet || !tty) return;
        long now = System.nanoTime();
        if (now - lastDraw < REDRAW_NANOS && doneBytes != total) return;
        lastDraw = now;
        double secs = Math.max((now - downloadStart) / 1e9, 1e-3);
        String bar = total > 0 ? bar(doneBytes / (double) total) + String.format(Locale.ROOT, " %3.0f%%", 100.0 * doneBytes / total) : "";
        err.print("\r" + file + " " + bar + " " + MemoryBudget.human(doneBytes) + (total > 0 ? " / " + MemoryBudget.human(total) : "")
                + String.format(Locale.ROOT, "  %.1f MB/s", doneBytes / secs / (1 << 20)) + "\033[K");
        lineOpen = true;
        err.flush();
    }

    @Override
    public void revisionResolved(String repo, String revision, String commit) {
        line("model " + repo + "@" + revision + " = commit " + commit);
    }

    @Override
    public void fileDone(String file, long bytes) {
        line("downloaded " + file + " (" + MemoryBudget.human(bytes) + ")");
    }

    @Override
    public void downloadNote(String message) {
        line("note: " + message);
    }

    private static String bar(double f) {
        int width = 24, full = (int) Math.round(Math.max(0, Math.min(1, f)) * width);
        return "[" + "#".repeat(full) + ".".repeat(width - full) + "]";
    }

    private void endLine() {
        if (lineOpen) {
            err.println();
            lineOpen = false;
        }
    }

    static String duration(double secs) {
        if (!Double.isFinite(secs)) return "?";
        if (secs < 60) return String.format(Locale.ROOT, "%.1f s", secs);
        long s = Math.round(secs);
        return s < 3600 ? String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60) : String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
    }

    /** VmHWM from /proc/self/status (Linux), or −1. */
    static long peakRssBytes() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/self/status")))
                if (l.startsWith("VmHWM:")) return Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024;
        } catch (java.io.IOException | RuntimeException ignored) {
            // not Linux: no figure
        }
        return -1;
    }
}
