package dev.onestep.pipeline;

import dev.onestep.testutil.Compare;
import dev.onestep.testutil.Fixtures;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The scheduler's per-step coefficients on the reference's own tensors: from x_t (init_noise, then the previous
 * prev_sample) and the golden UNet output v, x0 and prev_sample of every step of ddim4_leading/trailing must
 * follow to float32 rounding, independently of our UNet.
 */
class DdimStepFixtureTest {
    static final String CASE = "case1_80x60";

    @ParameterizedTest
    @ValueSource(strings = {"leading", "trailing"})
    void coefficientsReproduceEveryGoldenStep(String kind) {
        DdimScheduler s = DdimSchedulerTest.scheduler();
        String dir = "ddim4_" + kind + "/";
        int[] ts = s.timesteps(4, DdimScheduler.Spacing.parse(kind));
        float[] xt = Fixtures.floats(CASE, dir + "init_noise.npy");
        double worst = 0;
        for (int i = 0; i < ts.length; i++) {
            DdimScheduler.Step st = s.step(ts[i], 4);
            assertEquals(i + 1 < ts.length ? ts[i + 1] : ts[i] - 1000 / 4, st.prevT(), "prev timestep");
            float[] v = Fixtures.floats(CASE, dir + "unet_output_step" + i + ".npy");
            float[] x0 = new float[v.length], prev = new float[v.length];
            for (int j = 0; j < v.length; j++) {
                x0[j] = st.x0Sample() * xt[j] + st.x0Model() * v[j];
                float eps = st.epsSample() * xt[j] + st.epsModel() * v[j];
                prev[j] = st.sqrtAlphaPrev() * x0[j] + st.sqrtOneMinusAlphaPrev() * eps;
            }
            float[] gx0 = Fixtures.floats(CASE, dir + "x0_step" + i + ".npy");
            float[] gprev = Fixtures.floats(CASE, dir + "prev_sample_step" + i + ".npy");
            Compare.assertClose(kind + " x0_step" + i, gx0, x0, 2e-6, 1e-6);
            Compare.assertClose(kind + " prev_sample_step" + i, gprev, prev, 2e-6, 1e-6);
            worst = Math.max(worst, Math.max(Compare.maxAbsDiff(gx0, x0), Compare.maxAbsDiff(gprev, prev)));
            xt = gprev;
        }
        System.out.printf("ddim4_%s scheduler steps on golden tensors: max |diff| %.2e%n", kind, worst);
    }
}
