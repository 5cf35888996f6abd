package dev.onestep.eval;

import dev.onestep.image.NearestScale;

/**
 * Least-squares scale and shift of an affine-invariant prediction to metric ground truth over a mask,
 * min over (s, t) of Σ (s·p + t − g)² (Marigold's {@code align_depth_least_square}, in double precision, solved
 * in closed form from the 2×2 normal equations), optionally on a nearest-downscaled copy (max_res).
 */
public final class Alignment {
    private Alignment() {}

    /** @return {scale, shift} */
    public static double[] fit(float[] pred, float[] gt, boolean[] mask, int h, int w, int maxRes) {
        double f = NearestScale.factor(h, w, maxRes);
        float[] p = NearestScale.plane(pred, h, w, f), g = NearestScale.plane(gt, h, w, f);
        boolean[] m = NearestScale.mask(mask, h, w, f);
        return fit(p, g, m);
    }

    /** Closed-form least squares over the masked pixels; {1, 0} when fewer than two distinct predictions. */
    public static double[] fit(float[] p, float[] g, boolean[] m) {
        long n = 0;
        double sp = 0, sg = 0;
        for (int i = 0; i < p.length; i++)
            if (m[i]) {
                n++;
                sp += p[i];
                sg += g[i];
            }
        if (n == 0) return new double[] {1, 0};
        double mp = sp / n, mg = sg / n, cov = 0, var = 0;
        for (int i = 0; i < p.length; i++)
            if (m[i]) {
                double dp = p[i] - mp;
                cov += dp * (g[i] - mg);
                var += dp * dp;
            }
        if (var == 0) return new double[] {0, mg};         // a constant prediction: only the shift can fit (the GT mean)
        double s = cov / var;
        return new double[] {s, mg - s * mp};
    }

    /** s·p + t, clipped to [min, max] and then to ≥ 1e-6 (Marigold's eval.py), as a new array. */
    public static float[] applyAndClip(float[] pred, double[] st, double min, double max) {
        float[] out = new float[pred.length];
        for (int i = 0; i < pred.length; i++) {
            double v = st[0] * pred[i] + st[1];
            v = Math.min(max, Math.max(min, v));
            out[i] = (float) Math.max(EVAL_FLOOR, v);
        }
        return out;
    }

    /** eval.py clips predictions to d > 0 with this floor before the metrics. */
    static final double EVAL_FLOOR = 1e-6;
}
