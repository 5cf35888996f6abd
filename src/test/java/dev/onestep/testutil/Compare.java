package dev.onestep.testutil;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Element-wise comparison in the llm.c style: |a − e| ≤ atol + rtol·|e|, non-finite expectations must match
 * exactly in kind; a failure names the tensor, the worst element and the first few mismatches.
 */
public final class Compare {
    private Compare() {}

    public static void assertClose(String what, float[] expected, float[] actual, double atol, double rtol) {
        if (expected.length != actual.length)
            fail(what + ": length " + actual.length + ", expected " + expected.length);
        int bad = 0;
        double worst = -1;
        int worstAt = -1;
        StringBuilder first = new StringBuilder();
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i], a = actual[i];
            boolean ok;
            if (!Double.isFinite(e)) ok = Double.compare(e, a) == 0;
            else ok = Double.isFinite(a) && Math.abs(a - e) <= atol + rtol * Math.abs(e);
            double diff = Double.isFinite(a) ? Math.abs(a - e) : Double.POSITIVE_INFINITY;
            if (diff > worst) {
                worst = diff;
                worstAt = i;
            }
            if (!ok) {
                if (bad < 5) first.append(String.format("%n  [%d] expected %.7g, got %.7g", i, e, a));
                bad++;
            }
        }
        if (MeasuredErrors.enabled())
            MeasuredErrors.record(what, worst, MeasuredErrors.nmse(expected, actual), rtol == 0 ? "atol" : "atol+rtol·|e| (rtol " + rtol + ")", atol, bad == 0);
        if (bad > 0)
            fail(String.format("%s: %d of %d elements outside atol %.1e + rtol %.1e; worst |diff| %.3e at [%d] (expected %.7g, got %.7g)%s",
                    what, bad, expected.length, atol, rtol, worst, worstAt, expected[worstAt], actual[worstAt], first));
    }

    public static void assertClose(String what, float[] expected, float[] actual, double atol) {
        assertClose(what, expected, actual, atol, 0);
    }

    public static double maxAbsDiff(float[] a, float[] b) {
        if (a.length != b.length) throw new IllegalArgumentException("lengths differ");
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs((double) a[i] - b[i]));
        return m;
    }

    public static void assertShape(String what, int[] expected, int[] actual) {
        if (!Arrays.equals(expected, actual))
            fail(what + ": shape " + Arrays.toString(actual) + ", expected " + Arrays.toString(expected));
    }
}
