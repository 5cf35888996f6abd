package dev.onestep.testutil;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;

/**
 * The errors every comparison measured, passing or not, one tab-separated line each, appended to the file named by
 * {@code -Donestep.test.errors=FILE} (nothing is recorded without it). The GPU runbook (tools/gpu-check.sh) sets it so
 * that one run on a real GPU yields the data for calibrating the fp16/bf16 bounds (docs/CUDA.md, "Unverified" 7):
 * {@code what  max|diff|  nmse  bound  kind  pass}.
 */
public final class MeasuredErrors {
    private MeasuredErrors() {}

    private static final Path FILE = fileFromProperty();

    private static Path fileFromProperty() {
        String f = System.getProperty("onestep.test.errors");
        return f == null || f.isBlank() ? null : Path.of(f);
    }

    /** Whether a file was named (callers skip computing extra statistics otherwise). */
    public static boolean enabled() { return FILE != null; }

    /** Appends one line: the comparison's label, its largest |diff|, its NMSE, the bound applied and what kind it was. */
    public static synchronized void record(String what, double maxAbsDiff, double nmse, String kind, double bound, boolean pass) {
        if (FILE == null) return;
        String line = String.format(Locale.ROOT, "%s\t%.3e\t%.3e\t%.1e\t%s\t%s%n", what.replace('\t', ' '), maxAbsDiff, nmse, bound, kind,
                pass ? "pass" : "FAIL");
        try {
            Files.writeString(FILE, line, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot append to " + FILE + " (-Donestep.test.errors)", e);
        }
    }

    /** Σ(got − want)² / Σ want² (Σ(got − want)² when want is all zeros), over finite pairs; NaN when got has a non-finite value. */
    public static double nmse(float[] want, float[] got) {
        double err = 0, ref = 0;
        int n = Math.min(want.length, got.length);
        for (int i = 0; i < n; i++) {
            if (!Float.isFinite(got[i])) return Double.NaN;
            if (!Float.isFinite(want[i])) continue;
            double d = (double) got[i] - want[i];
            err += d * d;
            ref += (double) want[i] * want[i];
        }
        return ref == 0 ? err : err / ref;
    }
}
