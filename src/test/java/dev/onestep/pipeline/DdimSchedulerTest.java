package dev.onestep.pipeline;

import dev.onestep.io.Npy;
import dev.onestep.io.config.SchedulerConfig;
import dev.onestep.pipeline.DdimScheduler.Spacing;
import dev.onestep.testutil.Fixtures;
import org.junit.jupiter.api.Test;

import java.io.IOException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The scheduler against SPEC.md's timestep table and the reference's float32 ᾱ. */
class DdimSchedulerTest {
    static DdimScheduler scheduler() {
        return new DdimScheduler(SchedulerConfig.load(Fixtures.model().resolve("scheduler/scheduler_config.json")));
    }

    @Test
    void timestepsMatchSpecTable() {
        DdimScheduler s = scheduler();
        assertArrayEquals(new int[]{1}, s.timesteps(1, Spacing.LEADING));
        assertArrayEquals(new int[]{999}, s.timesteps(1, Spacing.TRAILING));
        assertArrayEquals(new int[]{501, 1}, s.timesteps(2, Spacing.LEADING));
        assertArrayEquals(new int[]{999, 499}, s.timesteps(2, Spacing.TRAILING));
        assertArrayEquals(new int[]{751, 501, 251, 1}, s.timesteps(4, Spacing.LEADING));
        assertArrayEquals(new int[]{999, 749, 499, 249}, s.timesteps(4, Spacing.TRAILING));
        assertArrayEquals(new int[]{901, 801, 701, 601, 501, 401, 301, 201, 101, 1}, s.timesteps(10, Spacing.LEADING));
        assertArrayEquals(new int[]{999, 899, 799, 699, 599, 499, 399, 299, 199, 99}, s.timesteps(10, Spacing.TRAILING));
        int[] lead50 = s.timesteps(50, Spacing.LEADING), trail50 = s.timesteps(50, Spacing.TRAILING);
        for (int i = 0; i < 50; i++) {
            assertEquals((49 - i) * 20 + 1, lead50[i]);
            assertEquals(999 - 20 * i, trail50[i]);
        }
    }

    @Test
    void fixtureMultiStepTimestepsMatch() throws IOException {
        DdimScheduler s = scheduler();
        for (String kind : new String[]{"leading", "trailing"}) {
            float[] t = Npy.readFloats(Fixtures.caseDir("case1_80x60").resolve("ddim4_" + kind + "/timesteps.npy"));
            int[] expected = new int[t.length];
            for (int i = 0; i < t.length; i++) expected[i] = (int) t[i];
            assertArrayEquals(expected, s.timesteps(4, Spacing.parse(kind)), kind);
        }
    }

    @Test
    void alphasCumprodEqualsReferenceFloat32() throws IOException {
        float[] expected = Npy.readFloats(Fixtures.root().resolve("alphas_cumprod.npy"));
        float[] actual = scheduler().alphasCumprod();
        assertEquals(expected.length, actual.length);
        int maxUlps = 0;
        for (int i = 0; i < expected.length; i++)
            maxUlps = Math.max(maxUlps, Math.abs(Float.floatToIntBits(expected[i]) - Float.floatToIntBits(actual[i])));
        // same float32 operations in the same order as torch.linspace/cumprod: bit-exact is the expectation
        assertEquals(0, maxUlps, "max ulps between reference and our ᾱ");
    }

    @Test
    void oneStepCoefficientsMatchTheReference() {
        DdimScheduler s = scheduler();
        assertEquals(0.0046600960195064545f, s.alphaCumprod(999));
        DdimScheduler.Step step = s.step(999, 1);
        // fixtures README: sqrt(ᾱ) = 0.06826489418745041, sqrt(1 − ᾱ) = 0.9976672530174255 (float32)
        assertEquals(0.06826489418745041f, step.x0Sample());
        assertEquals(-0.9976672530174255f, step.x0Model());
        assertEquals(-1, step.prevT());
        assertEquals((float) Math.sqrt(0.9991499781608582f), step.sqrtAlphaPrev()); // set_alpha_to_one false: ᾱ[0]
    }
}
