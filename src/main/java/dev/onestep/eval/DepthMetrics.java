package dev.onestep.eval;

/**
 * Per-image depth metrics over a valid mask, as Marigold's {@code src/util/metric.py}: AbsRel = mean |p − g|/g,
 * SqRel = mean (p − g)²/g, RMSE = √mean (p − g)², δ_i = fraction with max(p/g, g/p) < 1.25^i. Datasets average
 * the per-image values ({@link Summary}).
 */
public final class DepthMetrics {
    private DepthMetrics() {}

    /** The δ threshold base. */
    public static final double DELTA = 1.25;

    public record Scores(double absRel, double sqRel, double rmse, double delta1, double delta2, double delta3, long pixels) {}

    public static Scores compute(float[] pred, float[] gt, boolean[] mask) {
        long n = 0;
        double abs = 0, sq = 0, se = 0, d1 = 0, d2 = 0, d3 = 0;
        for (int i = 0; i < gt.length; i++) {
            if (!mask[i]) continue;
            double p = pred[i], g = gt[i], e = p - g;
            n++;
            abs += Math.abs(e) / g;
            sq += e * e / g;
            se += e * e;
            double r = Math.max(p / g, g / p);
            if (r < DELTA) d1++;
            if (r < DELTA * DELTA) d2++;
            if (r < DELTA * DELTA * DELTA) d3++;
        }
        if (n == 0) throw new IllegalArgumentException("no valid ground-truth pixel");
        return new Scores(abs / n, sq / n, Math.sqrt(se / n), d1 / n, d2 / n, d3 / n, n);
    }

    /**
     * The whole protocol for one image: least-squares scale/shift over the mask (at ≤ alignMaxRes), clip to
     * [min, max], metrics.
     */
    public static Scores evaluate(float[] relative, float[] gt, boolean[] mask, int h, int w, double min, double max, int alignMaxRes) {
        double[] st = Alignment.fit(relative, gt, mask, h, w, alignMaxRes);
        return compute(Alignment.applyAndClip(relative, st, min, max), gt, mask);
    }

    /** Mean of per-image scores. */
    public static final class Summary {
        private int images;
        private double absRel, sqRel, rmse, d1, d2, d3;

        public void add(Scores s) {
            images++;
            absRel += s.absRel(); sqRel += s.sqRel(); rmse += s.rmse();
            d1 += s.delta1(); d2 += s.delta2(); d3 += s.delta3();
        }

        public int images() { return images; }

        public Scores mean() {
            int n = Math.max(1, images);
            return new Scores(absRel / n, sqRel / n, rmse / n, d1 / n, d2 / n, d3 / n, images);
        }
    }
}
