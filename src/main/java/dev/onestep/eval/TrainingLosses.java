package dev.onestep.eval;

import java.util.Arrays;

/**
 * The E2E-FT training losses (SPEC "Training losses"), as plain functions for tests and analysis:
 * the affine-invariant depth L1 and the angular normal loss.
 */
public final class TrainingLosses {
    private TrainingLosses() {}

    /** Quantiles the depth GT is clamped to. */
    public static final double GT_LOW_QUANTILE = 0.02, GT_HIGH_QUANTILE = 0.98;
    /** Added to ‖p‖ before normalising the predicted normal. */
    public static final double NORMAL_EPS = 1e-5;

    /**
     * Affine-invariant L1: GT clamped to its 2–98 % quantiles over the mask, closed-form least-squares scale and
     * shift of the prediction to that GT over the mask, then the mean |s·p + t − g| over the mask.
     */
    public static double affineInvariantL1(float[] pred, float[] gt, boolean[] mask) {
        float[] valid = masked(gt, mask);
        if (valid.length == 0) throw new IllegalArgumentException("empty mask");
        Arrays.sort(valid);
        double lo = quantile(valid, GT_LOW_QUANTILE), hi = quantile(valid, GT_HIGH_QUANTILE);
        float[] g = new float[gt.length];
        for (int i = 0; i < gt.length; i++) g[i] = (float) Math.min(hi, Math.max(lo, gt[i]));
        double[] st = Alignment.fit(pred, g, mask);
        double sum = 0;
        long n = 0;
        for (int i = 0; i < gt.length; i++)
            if (mask[i]) {
                sum += Math.abs(st[0] * pred[i] + st[1] - g[i]);
                n++;
            }
        return sum / n;
    }

    /**
     * Angular loss: mean over the mask of acos(clamp(⟨p̂, g⟩, −1, 1)) in radians, p̂ = p / (‖p‖ + 1e-5); maps are
     * channels-first [3, n], g assumed unit length.
     */
    public static double angularLoss(float[] pred, float[] gt, boolean[] mask, int n) {
        double sum = 0;
        long cnt = 0;
        for (int i = 0; i < n; i++) {
            if (!mask[i]) continue;
            double px = pred[i], py = pred[n + i], pz = pred[2 * n + i];
            double norm = Math.sqrt(px * px + py * py + pz * pz) + NORMAL_EPS;
            double dot = (px * gt[i] + py * gt[n + i] + pz * gt[2 * n + i]) / norm;
            sum += Math.acos(Math.max(-1, Math.min(1, dot)));
            cnt++;
        }
        if (cnt == 0) throw new IllegalArgumentException("empty mask");
        return sum / cnt;
    }

    /** torch.quantile's default (linear interpolation) on sorted values. */
    static double quantile(float[] sorted, double q) {
        double pos = q * (sorted.length - 1);
        int lo = (int) Math.floor(pos), hi = Math.min(lo + 1, sorted.length - 1);
        return sorted[lo] + (pos - lo) * ((double) sorted[hi] - sorted[lo]);
    }

    private static float[] masked(float[] a, boolean[] m) {
        int n = 0;
        for (boolean b : m) if (b) n++;
        float[] out = new float[n];
        for (int i = 0, j = 0; i < a.length; i++) if (m[i]) out[j++] = a[i];
        return out;
    }
}
