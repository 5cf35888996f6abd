package dev.onestep.eval;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Depth and normal metrics, alignment, masks and training losses on synthetic GT with closed-form answers. */
class MetricsTest {
    static final int H = 20, W = 30;

    static float[] gt() {
        float[] g = new float[H * W];
        for (int y = 0; y < H; y++) for (int x = 0; x < W; x++) g[y * W + x] = 1f + 0.1f * x + 0.05f * y;
        return g;
    }

    static boolean[] all(int n) {
        boolean[] m = new boolean[n];
        java.util.Arrays.fill(m, true);
        return m;
    }

    @Test
    void exactAffineCopyIsPerfect() {
        float[] g = gt(), p = new float[g.length];
        for (int i = 0; i < g.length; i++) p[i] = (g[i] - 0.7f) / 3.2f;   // relative depth: an affine copy
        DepthMetrics.Scores s = DepthMetrics.evaluate(p, g, all(g.length), H, W, 1e-3, 10, 0);
        assertEquals(0, s.absRel(), 1e-6);
        assertEquals(0, s.rmse(), 1e-5);
        assertEquals(1, s.delta1());
        assertEquals(g.length, s.pixels());
    }

    @Test
    void knownMultiplicativePerturbationGivesKnownAbsRel() {
        // p = g·(1 ± e) alternating; no alignment (compute directly): |p − g|/g = e everywhere, max ratio 1 + e
        float[] g = gt(), p = new float[g.length];
        double e = 0.1;
        for (int i = 0; i < g.length; i++) p[i] = (float) (g[i] * (i % 2 == 0 ? 1 + e : 1 - e));
        DepthMetrics.Scores s = DepthMetrics.compute(p, g, all(g.length));
        assertEquals(e, s.absRel(), 1e-6);
        assertEquals(1, s.delta1());                        // 1/(1 − 0.1) = 1.111 < 1.25
        // e = 0.3: ratios 1.3 (fails δ1, passes δ2) and 1/0.7 = 1.43 (fails δ1, passes δ2)
        for (int i = 0; i < g.length; i++) p[i] = (float) (g[i] * (i % 2 == 0 ? 1.3 : 0.7));
        DepthMetrics.Scores s3 = DepthMetrics.compute(p, g, all(g.length));
        assertEquals(0.3, s3.absRel(), 1e-6);
        assertEquals(0, s3.delta1());
        assertEquals(1, s3.delta2());
        // uniform scale 1.2 is removed by the alignment
        for (int i = 0; i < g.length; i++) p[i] = g[i] * 1.2f;
        assertEquals(0, DepthMetrics.evaluate(p, g, all(g.length), H, W, 1e-3, 10, 0).absRel(), 1e-6);
    }

    @Test
    void alignmentRecoversScaleShiftAndClipsToTheRange() {
        float[] g = gt(), p = new float[g.length];
        for (int i = 0; i < g.length; i++) p[i] = 2 * g[i] + 1;
        double[] st = Alignment.fit(p, g, all(g.length), H, W, 0);
        assertEquals(0.5, st[0], 1e-7);                    // p is float: 2·g + 1 rounded
        assertEquals(-0.5, st[1], 1e-7);
        double[] small = Alignment.fit(p, g, all(g.length), H, W, 8);   // nearest-downscaled solve: same exact answer
        assertEquals(0.5, small[0], 1e-6);
        float[] a = Alignment.applyAndClip(new float[]{-5, 0.5f, 50}, new double[]{1, 0}, 1e-3, 10);
        assertArrayEquals(new float[]{1e-3f, 0.5f, 10f}, a);
    }

    @Test
    void masksAndCrops() {
        float[] g = new float[480 * 640];
        java.util.Arrays.fill(g, 5f);
        g[100 * 640 + 100] = 20f;                          // outside NYU's range
        boolean[] m = DatasetKind.NYUV2.validMask(g, 480, 640, DatasetKind.NYUV2.minDepth, DatasetKind.NYUV2.maxDepth, null);
        assertFalse(m[44 * 640 + 100]);
        assertTrue(m[45 * 640 + 41]);
        assertFalse(m[45 * 640 + 601]);
        assertFalse(m[100 * 640 + 100]);
        int count = 0;
        for (boolean b : m) if (b) count++;
        assertEquals((471 - 45) * (601 - 41) - 1, count);
        assertArrayEquals(new int[]{375 - 352, (1242 - 1216) / 2}, DatasetKind.benchmarkCropOrigin(375, 1242));
        float[] k = new float[352 * 1216];
        java.util.Arrays.fill(k, 10f);
        boolean[] km = DatasetKind.KITTI.validMask(k, 352, 1216, 1e-5, 80, null);
        assertFalse(km[(int) (0.3324324 * 352 - 1) * 1216 + 600]);
        assertTrue(km[(int) (0.3324324 * 352) * 1216 + (int) (0.0359477 * 1216)]);
    }

    @Test
    void rotatedNormalsGiveThatAngle() {
        int n = H * W;
        double deg = 12.5, r = Math.toRadians(deg);
        float[] g = new float[3 * n], p = new float[3 * n];
        for (int i = 0; i < n; i++) {
            g[2 * n + i] = 1;                                 // +Z
            p[i] = (float) Math.sin(r);                      // rotated about y by 12.5°
            p[2 * n + i] = (float) Math.cos(r);
        }
        NormalMetrics m = new NormalMetrics();
        NormalMetrics.Scores s = m.add(p, g, all(n), n);
        assertEquals(deg, s.mean(), 1e-4);
        assertEquals(deg, s.median(), 1e-4);
        assertEquals(deg, s.rmse(), 1e-4);
        assertArrayEquals(new double[]{0, 0, 0, 100, 100}, s.percentBelow(), 1e-9);
        // pooled over images: a second image at 0° → half the pixels at 0, half at 12.5
        m.add(g, g, all(n), n);
        NormalMetrics.Scores pooled = m.scores();
        assertEquals(deg / 2, pooled.mean(), 1e-4);
        assertEquals(50, pooled.percentBelow()[0], 1e-9);
        assertEquals(2L * n, pooled.pixels());
    }

    @Test
    void affineInvariantL1IsZeroForAnAffineCopyAndKnownForNoise() {
        float[] g = gt(), p = new float[g.length];
        for (int i = 0; i < g.length; i++) p[i] = 0.3f * g[i] - 2;
        // p follows the unclamped g, so only the 2 % tails (clamped in the GT) leave a small residual
        assertTrue(TrainingLosses.affineInvariantL1(p, g, all(g.length)) < 0.02);
        // a two-valued GT has no tails to clamp: an affine copy of it is exact
        float[] c = new float[g.length];
        java.util.Arrays.fill(c, 2f);
        for (int i = 0; i < c.length; i++) c[i] += (i % 2 == 0 ? 0.1f : -0.1f);
        float[] pc = new float[c.length];
        for (int i = 0; i < c.length; i++) pc[i] = 5 * c[i] + 1;
        assertEquals(0, TrainingLosses.affineInvariantL1(pc, c, all(c.length)), 1e-6);
        // prediction constant: best fit is the mean, error = mean |g − mean| = 0.1
        float[] flat = new float[c.length];
        assertEquals(0.1, TrainingLosses.affineInvariantL1(flat, c, all(c.length)), 1e-6);
    }

    @Test
    void quantileIsLinearAsTorch() {
        float[] s = {0, 1, 2, 3, 4};
        assertEquals(0.08, TrainingLosses.quantile(s, 0.02), 1e-9);
        assertEquals(3.92, TrainingLosses.quantile(s, 0.98), 1e-9);
    }

    @Test
    void angularLossOfARotationIsItsAngle() {
        int n = 10;
        float[] g = new float[3 * n], p = new float[3 * n];
        double r = 0.3;
        for (int i = 0; i < n; i++) {
            g[n + i] = 1;
            p[n + i] = (float) (2 * Math.cos(r));             // unnormalised prediction of length 2
            p[2 * n + i] = (float) (2 * Math.sin(r));
        }
        assertEquals(r, TrainingLosses.angularLoss(p, g, all(n), n), 1e-4);
        assertEquals(0, TrainingLosses.angularLoss(g, g, all(n), n), 1e-2); // (‖p‖ + 1e-5) keeps acos just below 1
    }
}
