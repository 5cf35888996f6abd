package dev.onestep.pipeline;

import dev.onestep.image.NearestScale;

import java.util.Arrays;

/**
 * Marigold's test-time ensembling of affine-invariant depth maps ({@code marigold/util/ensemble.py},
 * {@code ensemble_depths}): every member k gets a scale s_k and shift t_k, found by BFGS (see {@link Bfgs}) on
 *
 * <pre>  f(s, t) = √(mean over member pairs and pixels of (T_i − T_j)²) + λ·(|min m| + |1 − max m|),
 *   T_k = s_k·D_k + t_k,  m = reduction over k of T_k (median or mean)</pre>
 *
 * starting from each member's own min–max normalisation (s = 1/(max − min), t = −s·min). The merged map is the
 * per-pixel median (torch.median: the LOWER of the two middle values for an even count) or mean of the
 * transformed members, with the median absolute deviation (or the unbiased std) as uncertainty; both are then
 * divided by the merged map's range after it is min–max normalised to [0, 1].
 *
 * <p>{@code maxRes} solves the optimisation on a nearest-downscaled copy, as the reference intends (its own
 * max_res path cannot run on the tensors it is given).
 */
public final class DepthEnsemble {
    private DepthEnsemble() {}

    public enum Reduction { MEDIAN, MEAN }

    /** The reference's defaults: regularizer_strength 0.02, max_iter 2, tol 1e-3, median, max_res none (0). */
    public record Settings(double regularizerStrength, int maxIter, double tol, Reduction reduction, int maxRes) {
        public static Settings defaults() { return new Settings(0.02, 2, 1e-3, Reduction.MEDIAN, 0); }
    }

    /** The merged map [h·w] in [0, 1], its uncertainty [h·w], and the fitted scales and shifts. */
    public record Result(float[] depth, float[] uncertainty, double[] scales, double[] shifts) {}

    /**
     * @param members [K][h·w] depth maps (the reference passes single_infer's output: channel mean, clip, (d+1)/2)
     */
    public static Result ensemble(float[][] members, int h, int w, Settings st) {
        int k = members.length, n = h * w;
        if (k < 1) throw new IllegalArgumentException("no members to ensemble");
        for (float[] m : members)
            if (m.length != n) throw new IllegalArgumentException("member of " + m.length + " values for a " + h + "×" + w + " map");
        double f = NearestScale.factor(h, w, st.maxRes());
        float[][] small = new float[k][];
        for (int i = 0; i < k; i++) small[i] = NearestScale.plane(members[i], h, w, f);

        double[] x0 = new double[2 * k];
        for (int i = 0; i < k; i++) {
            float min = Float.POSITIVE_INFINITY, max = Float.NEGATIVE_INFINITY;
            for (float v : small[i]) {
                min = Math.min(min, v);
                max = Math.max(max, v);
            }
            double s = max > min ? 1.0 / ((double) max - min) : 1.0;    // a flat member keeps scale 1
            x0[i] = s;
            x0[k + i] = -s * min;
        }
        double[] x = k == 1 ? x0 : Bfgs.minimize(p -> objective(small, p, st), x0, st.tol(), st.maxIter()).x();

        float[][] t = transform(members, x);
        float[] merged = new float[n], unc = new float[n];
        float[] col = new float[k];
        for (int p = 0; p < n; p++) {
            for (int i = 0; i < k; i++) col[i] = t[i][p];
            if (st.reduction() == Reduction.MEDIAN) {
                float med = lowerMedian(col);
                merged[p] = med;
                for (int i = 0; i < k; i++) col[i] = Math.abs(t[i][p] - med);
                unc[p] = lowerMedian(col);
            } else {
                double mean = 0;
                for (float v : col) mean += v;
                mean /= k;
                double ss = 0;
                for (float v : col) ss += (v - mean) * (v - mean);
                merged[p] = (float) mean;
                unc[p] = k > 1 ? (float) Math.sqrt(ss / (k - 1)) : 0f;
            }
        }
        float min = Float.POSITIVE_INFINITY, max = Float.NEGATIVE_INFINITY;
        for (float v : merged) {
            min = Math.min(min, v);
            max = Math.max(max, v);
        }
        float range = max - min;
        for (int p = 0; p < n; p++) {
            merged[p] = range > 0 ? (merged[p] - min) / range : 0f;
            unc[p] = range > 0 ? unc[p] / range : 0f;
        }
        return new Result(merged, unc, Arrays.copyOfRange(x, 0, k), Arrays.copyOfRange(x, k, 2 * k));
    }

    /** The objective above for parameters x = [s_0..s_{K−1}, t_0..t_{K−1}]. */
    static double objective(float[][] d, double[] x, Settings st) {
        int k = d.length, n = d[0].length;
        double pairSq = 0;
        double[] col = new double[k];
        double mMin = Double.POSITIVE_INFINITY, mMax = Double.NEGATIVE_INFINITY;
        for (int p = 0; p < n; p++) {
            double sum = 0, sumSq = 0;
            for (int i = 0; i < k; i++) {
                double v = x[i] * d[i][p] + x[k + i];
                col[i] = v;
                sum += v;
                sumSq += v * v;
            }
            pairSq += k * sumSq - sum * sum;             // Σ_{i<j} (T_i − T_j)² = K·ΣT² − (ΣT)²
            double m;
            if (st.reduction() == Reduction.MEDIAN) {
                Arrays.sort(col);
                m = col[(k - 1) / 2];
            } else {
                m = sum / k;
            }
            mMin = Math.min(mMin, m);
            mMax = Math.max(mMax, m);
        }
        int pairs = k * (k - 1) / 2;
        double dist = Math.sqrt(Math.max(0, pairSq) / ((double) pairs * n));
        return dist + (Math.abs(mMin) + Math.abs(1 - mMax)) * st.regularizerStrength();
    }

    private static float[][] transform(float[][] d, double[] x) {
        int k = d.length;
        float[][] t = new float[k][];
        for (int i = 0; i < k; i++) {
            float s = (float) x[i], sh = (float) x[k + i];
            t[i] = new float[d[i].length];
            for (int p = 0; p < d[i].length; p++) t[i][p] = d[i][p] * s + sh;
        }
        return t;
    }

    /** torch.median over a small array: the lower middle value (sorts a copy). */
    static float lowerMedian(float[] v) {
        float[] c = v.clone();
        Arrays.sort(c);
        return c[(c.length - 1) / 2];
    }
}
