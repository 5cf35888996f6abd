package dev.onestep.pipeline;

import dev.onestep.image.Resize.Mode;
import dev.onestep.testutil.Compare;
import dev.onestep.testutil.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Every intermediate of the depth and normal post-processing against the goldens, from vae_dec_output.npy. */
class PostProcessTest {
    static List<String> cases() { return Fixtures.cases(); }

    @ParameterizedTest
    @MethodSource("cases")
    void depthStages(String c) {
        int[] dec = Fixtures.shape(c, "vae_dec_output.npy");   // [1, 3, h, w]
        int[] in = Fixtures.shape(c, "input_rgb_uint8.npy");   // [3, H, W]
        int h = dec[2], w = dec[3], H = in[1], W = in[2];
        float[] decoded = Fixtures.floats(c, "vae_dec_output.npy");

        float[] mean = PostProcess.depthMean(decoded, h, w);
        Compare.assertClose(c + " depth_mean_raw", Fixtures.floats(c, "depth_mean_raw.npy"), mean, 1e-6);
        float[] unit = PostProcess.depthToUnit(mean.clone());
        Compare.assertClose(c + " depth_single_infer", Fixtures.floats(c, "depth_single_infer.npy"), unit, 1e-6);
        float[] proc = PostProcess.minMax(unit.clone());
        Compare.assertClose(c + " depth_proc_res", Fixtures.floats(c, "depth_proc_res.npy"), proc, 1e-5);
        Compare.assertClose(c + " depth()", proc, PostProcess.depth(decoded, h, w), 0);

        float[] resized = dev.onestep.image.Resize.resizeFloat(proc, 1, h, w, H, W, Mode.BILINEAR);
        Compare.assertClose(c + " depth_resized_unclipped", Fixtures.floats(c, "depth_resized_unclipped.npy"), resized, 1e-5);
        float[] fin = PostProcess.depth(decoded, h, w, H, W, Mode.BILINEAR);
        Compare.assertClose(c + " depth_final", Fixtures.floats(c, "depth_final.npy"), fin, 1e-5);
        System.out.printf("%s depth: mean %.2e, single %.2e, proc %.2e, final %.2e max abs%n", c,
                Compare.maxAbsDiff(Fixtures.floats(c, "depth_mean_raw.npy"), mean),
                Compare.maxAbsDiff(Fixtures.floats(c, "depth_single_infer.npy"), unit),
                Compare.maxAbsDiff(Fixtures.floats(c, "depth_proc_res.npy"), proc),
                Compare.maxAbsDiff(Fixtures.floats(c, "depth_final.npy"), fin));
    }

    @ParameterizedTest
    @MethodSource("cases")
    void normalStages(String c) {
        int[] dec = Fixtures.shape(c, "vae_dec_output.npy");
        int[] in = Fixtures.shape(c, "input_rgb_uint8.npy");
        int h = dec[2], w = dec[3], H = in[1], W = in[2];
        float[] decoded = Fixtures.floats(c, "vae_dec_output.npy");
        float[] before = decoded.clone();

        // Finding: normal_single_infer.npy is NOT the once-normalised map (that differs by up to 4.9e-4 where
        // ‖out‖ is small, e.g. 0.013 in case 2); it equals the twice-normalised one to 1.2e-7, as does
        // normal_proc_res.npy (a third pass is a fixed point to ~1e-7). Most likely the golden was captured as a
        // reference to the tensor that __call__ later divides in place. The pipeline output (normal_final,
        // cross-checked against MarigoldPipeline) is what PostProcess.normals() reproduces.
        float[] once = PostProcess.normalize(decoded.clone(), h, w);
        Compare.assertClose(c + " normal_single_infer (once, loose)", Fixtures.floats(c, "normal_single_infer.npy"), once, 1e-3);
        float[] twice = PostProcess.normals(decoded, h, w);
        assertArrayEquals(before, decoded, "normals() must not modify its input");
        Compare.assertClose(c + " normal_single_infer (twice)", Fixtures.floats(c, "normal_single_infer.npy"), twice, 1e-6);
        Compare.assertClose(c + " normal_proc_res", Fixtures.floats(c, "normal_proc_res.npy"), twice, 1e-6);
        float[] resized = dev.onestep.image.Resize.resizeFloat(twice, 3, h, w, H, W, Mode.BILINEAR);
        Compare.assertClose(c + " normal_resized_unclipped", Fixtures.floats(c, "normal_resized_unclipped.npy"), resized, 1e-4);
        float[] fin = PostProcess.normals(decoded, h, w, H, W, Mode.BILINEAR);
        Compare.assertClose(c + " normal_final", Fixtures.floats(c, "normal_final.npy"), fin, 1e-4);
        System.out.printf("%s normals: single %.2e, proc %.2e, final %.2e max abs%n", c,
                Compare.maxAbsDiff(Fixtures.floats(c, "normal_single_infer.npy"), once),
                Compare.maxAbsDiff(Fixtures.floats(c, "normal_proc_res.npy"), twice),
                Compare.maxAbsDiff(Fixtures.floats(c, "normal_final.npy"), fin));
    }

    @Test
    void flatDepthBecomesZeros() {
        float[] dec = new float[3 * 2 * 2];
        java.util.Arrays.fill(dec, 0.3f);
        float[] d = PostProcess.depth(dec, 2, 2);
        assertArrayEquals(new float[4], d);
        float[] big = PostProcess.depth(dec, 2, 2, 5, 7, Mode.BILINEAR);
        assertEquals(35, big.length);
        for (float v : big) assertEquals(0f, v);
    }

    @Test
    void depthClipsOutOfRangeDecoderValues() {
        // channel means 3, -3, 0, 0.5 -> clip 1, -1, 0, 0.5 -> 1, 0, 0.5, 0.75 -> already min 0 max 1
        float[] dec = {3, -3, 0, 0.5f, 3, -3, 0, 0.5f, 3, -3, 0, 0.5f};
        assertArrayEquals(new float[] {1, 0, 0.5f, 0.75f}, PostProcess.depth(dec, 2, 2), 1e-7f);
    }

    @Test
    void normalsAreUnitAndZeroStaysZero() {
        float[] dec = {3, 0, 0, 0, 4, 0};   // [3, 1, 2] planes: pixel 0 = (3, 0, 4), pixel 1 = 0
        float[] n = PostProcess.normals(dec, 1, 2);
        assertEquals(0.6f, n[0], 1e-5f);
        assertEquals(0f, n[2]);
        assertEquals(0.8f, n[4], 1e-5f);
        assertEquals(1f, n[0] * n[0] + n[2] * n[2] + n[4] * n[4], 1e-4f);
        assertEquals(0f, n[1]);
        assertEquals(0f, n[3]);
        assertEquals(0f, n[5]);
        assertThrows(IllegalArgumentException.class, () -> PostProcess.normals(new float[5], 1, 2));
    }
}
