package dev.onestep.eval;

import java.util.Arrays;

/**
 * Surface-normal angular error in degrees, pooled over all valid pixels of a dataset (not averaged per image):
 * mean, median, RMSE and the percentage of pixels below 5, 7.5, 11.25, 22.5 and 30°. Both maps are normalised
 * per pixel; the cosine is clamped to [−1, 1].
 */
public final class NormalMetrics {
    /** The accuracy thresholds in degrees. */
    public static final double[] THRESHOLDS = {5, 7.5, 11.25, 22.5, 30};

    private float[] errors = new float[1024];
    private int count;

    public record Scores(double mean, double median, double rmse, double[] percentBelow, long pixels) {}

    /** Angular errors [h·w] (degrees; NaN where invalid) of channels-first maps [3, h, w]. */
    public static float[] angularErrors(float[] pred, float[] gt, boolean[] mask, int n) {
        float[] e = new float[n];
        for (int i = 0; i < n; i++) {
            if (!mask[i]) {
                e[i] = Float.NaN;
                continue;
            }
            double px = pred[i], py = pred[n + i], pz = pred[2 * n + i];
            double gx = gt[i], gy = gt[n + i], gz = gt[2 * n + i];
            double pn = Math.sqrt(px * px + py * py + pz * pz), gn = Math.sqrt(gx * gx + gy * gy + gz * gz);
            double c = (px * gx + py * gy + pz * gz) / Math.max(pn * gn, 1e-12);
            e[i] = (float) Math.toDegrees(Math.acos(Math.max(-1, Math.min(1, c))));
        }
        return e;
    }

    /** Adds one image's valid pixels; returns this image's own scores. */
    public Scores add(float[] pred, float[] gt, boolean[] mask, int n) {
        float[] e = angularErrors(pred, gt, mask, n);
        NormalMetrics own = new NormalMetrics();
        for (float v : e) {
            if (Float.isNaN(v)) continue;
            push(v);
            own.push(v);
        }
        return own.scores();
    }

    private void push(float v) {
        if (count == errors.length) errors = Arrays.copyOf(errors, errors.length * 2);
        errors[count++] = v;
    }

    public Scores scores() {
        if (count == 0) throw new IllegalArgumentException("no valid ground-truth normal");
        float[] e = Arrays.copyOf(errors, count);
        Arrays.sort(e);
        double sum = 0, sq = 0;
        double[] below = new double[THRESHOLDS.length];
        for (float v : e) {
            sum += v;
            sq += (double) v * v;
            for (int t = 0; t < THRESHOLDS.length; t++) if (v < THRESHOLDS[t]) below[t]++;
        }
        for (int t = 0; t < below.length; t++) below[t] = 100.0 * below[t] / count;
        // median as numpy: the mean of the two middle values for an even count
        double median = count % 2 == 1 ? e[count / 2] : (e[count / 2 - 1] + (double) e[count / 2]) / 2;
        return new Scores(sum / count, median, Math.sqrt(sq / count), below, count);
    }
}
