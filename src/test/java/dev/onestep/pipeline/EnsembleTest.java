package dev.onestep.pipeline;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Depth and normal ensembling on synthetic members with closed-form answers, and the BFGS it relies on. */
class EnsembleTest {
    static final int H = 12, W = 16;

    static float[] base() {
        float[] d = new float[H * W];
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) d[y * W + x] = (float) (0.3 + 0.4 * Math.sin(0.3 * x) * Math.cos(0.2 * y) + 0.01 * x);
        return d;
    }

    static float[] minMax(float[] d) { return PostProcess.minMax(d.clone()); }

    @Test
    void exactAffineCopiesGiveTheBaseMapAndZeroUncertainty() {
        float[] b = base();
        double[][] st = {{1, 0}, {2.5, -0.3}, {0.4, 0.7}, {1.3, 0.05}, {0.8, -0.1}};
        float[][] members = new float[st.length][b.length];
        for (int k = 0; k < st.length; k++)
            for (int p = 0; p < b.length; p++) members[k][p] = (float) (st[k][0] * b[p] + st[k][1]);
        for (DepthEnsemble.Reduction red : DepthEnsemble.Reduction.values()) {
            DepthEnsemble.Result r = DepthEnsemble.ensemble(members, H, W,
                    new DepthEnsemble.Settings(0.02, 2, 1e-3, red, 0));
            assertArrayEquals(minMax(b), r.depth(), 2e-5f, red + ": the ensemble is the base map up to affine");
            for (float u : r.uncertainty()) assertEquals(0f, u, 2e-5f);
            // each member's fitted transform maps it onto the normalised base: s_k·st_k[0] is the same for all k
            for (int k = 1; k < st.length; k++)
                assertEquals(r.scales()[0] * st[0][0], r.scales()[k] * st[k][0], 1e-4);
        }
    }

    @Test
    void medianIgnoresOneOutlierMemberAndFlagsItInTheUncertainty() {
        float[] b = base();
        float[][] m = {b.clone(), b.clone(), b.clone(), b.clone(), b.clone()};
        int bad = 5 * W + 7;
        m[2][bad] += 0.5f;                                  // one member, one pixel off
        DepthEnsemble.Result r = DepthEnsemble.ensemble(m, H, W, DepthEnsemble.Settings.defaults());
        assertArrayEquals(minMax(b), r.depth(), 1e-4f);
        for (float u : r.uncertainty()) assertEquals(0f, u, 1e-4f); // MAD of 4 equal + 1 outlier is 0
    }

    @Test
    void lowerMedianAsTorch() {
        assertEquals(2f, DepthEnsemble.lowerMedian(new float[]{4, 1, 3, 2}));
        assertEquals(3f, DepthEnsemble.lowerMedian(new float[]{5, 1, 3}));
    }

    @Test
    void meanReductionOfShiftedCopiesHasTheKnownStd() {
        // members b + c_k with c = {−δ, 0, +δ} and equal ranges: min–max init aligns them exactly, so the
        // optimiser starts at the optimum (objective = 0) and stays there
        float[] b = base();
        float d = 0.05f;
        float[][] m = new float[3][b.length];
        for (int p = 0; p < b.length; p++) {
            m[0][p] = b[p] - d;
            m[1][p] = b[p];
            m[2][p] = b[p] + d;
        }
        DepthEnsemble.Result r = DepthEnsemble.ensemble(m, H, W, new DepthEnsemble.Settings(0.02, 2, 1e-3, DepthEnsemble.Reduction.MEAN, 0));
        assertArrayEquals(minMax(b), r.depth(), 2e-5f);
    }

    @Test
    void bfgsFindsTheMinimumOfAQuadratic() {
        // f = (x − 1)² + 10 (y + 2)² + x·y/2: minimum where ∇f = 0 → solve [[2, .5], [.5, 20]]·[x, y] = [2, −40]
        Bfgs.Result r = Bfgs.minimize(v -> (v[0] - 1) * (v[0] - 1) + 10 * (v[1] + 2) * (v[1] + 2) + v[0] * v[1] / 2,
                new double[]{0, 0}, 1e-8, 100);
        double det = 2 * 20 - 0.25;
        assertEquals((2 * 20 - 0.5 * -40) / det, r.x()[0], 1e-3);
        assertEquals((2 * -40 - 0.5 * 2) / det, r.x()[1], 1e-3);
    }

    @Test
    void noisyMembersEnsembleCloserToTheTruthThanOneMember() {
        float[] b = base();
        Random rnd = new Random(3);
        float[][] m = new float[7][b.length];
        for (int k = 0; k < m.length; k++)
            for (int p = 0; p < b.length; p++) m[k][p] = (float) ((0.8 + 0.05 * k) * (b[p] + 0.03 * rnd.nextGaussian()) + 0.02 * k);
        DepthEnsemble.Result r = DepthEnsemble.ensemble(m, H, W, DepthEnsemble.Settings.defaults());
        float[] truth = minMax(b);
        assertTrue(rms(truth, r.depth()) < rms(truth, minMax(m[0])), "median of 7 beats one member");
    }

    @Test
    void normalEnsemblePicksTheMemberNearestTheMeanDirection() {
        int n = H * W;
        float[][] m = new float[3][3 * n];
        double[] tilt = {-0.2, 0.02, 0.25};                // radians about the y axis: the middle one is nearest
        for (int k = 0; k < 3; k++)
            for (int p = 0; p < n; p++) {
                m[k][p] = (float) Math.sin(tilt[k]);
                m[k][2 * n + p] = (float) Math.cos(tilt[k]);
            }
        NormalEnsemble.Result r = NormalEnsemble.ensemble(m, H, W);
        assertEquals(1, r.chosen());
        double expectedDeg = (Math.toDegrees(0.22) + 0 + Math.toDegrees(0.23)) / 3;
        for (float u : r.uncertainty()) assertEquals(expectedDeg, u, 1e-3);
    }

    static double rms(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
        return Math.sqrt(s / a.length);
    }
}
