package dev.onestep.image;

import dev.onestep.image.Resize.Mode;
import dev.onestep.testutil.Compare;
import dev.onestep.testutil.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class ResizeTest {

    static List<String> cases() { return Fixtures.cases(); }

    @Test
    void processingSizeMatchesFixtures() {
        assertArrayEquals(new int[] {64, 48}, Resize.resizeMaxRes(80, 60, 64));
        assertArrayEquals(new int[] {64, 45}, Resize.resizeMaxRes(75, 53, 64));
        assertArrayEquals(new int[] {75, 53}, Resize.resizeMaxRes(75, 53, 0));
        // portrait and upscaling: the longest side becomes R
        assertArrayEquals(new int[] {576, 768}, Resize.resizeMaxRes(480, 640, 768));
        assertArrayEquals(new int[] {768, 432}, Resize.resizeMaxRes(1920, 1080, 768));
        assertThrows(IllegalArgumentException.class, () -> Resize.resizeMaxRes(0, 10, 64));
        assertThrows(IllegalArgumentException.class, () -> Resize.resizeMaxRes(10000, 1, 64));
    }

    @ParameterizedTest
    @MethodSource("cases")
    void uint8BilinearIsBitExact(String c) {
        int[] in = Fixtures.shape(c, "input_rgb_uint8.npy"), out = Fixtures.shape(c, "rgb_resized_uint8.npy");
        byte[] src = toBytes(Fixtures.floats(c, "input_rgb_uint8.npy"));
        byte[] got = Resize.resizeUint8(src, 3, in[1], in[2], out[1], out[2], Mode.BILINEAR);
        float[] expected = Fixtures.floats(c, "rgb_resized_uint8.npy");
        int off = 0, worse = 0;
        for (int i = 0; i < got.length; i++) {
            int d = Math.abs((got[i] & 0xFF) - (int) expected[i]);
            if (d == 1) off++;
            else if (d > 1) worse++;
        }
        assertEquals(0, worse, c + ": values off by more than 1");
        assertEquals(0, off, c + ": values off by one");
    }

    @ParameterizedTest
    @MethodSource("cases")
    void imageOverloadMatches(String c) {
        int[] in = Fixtures.shape(c, "input_rgb_uint8.npy"), out = Fixtures.shape(c, "rgb_resized_uint8.npy");
        RgbImage img = new RgbImage(toBytes(Fixtures.floats(c, "input_rgb_uint8.npy")), in[2], in[1], c);
        RgbImage r = Resize.resizeUint8(img, out[1], out[2], Mode.BILINEAR);
        assertEquals(out[2], r.width());
        assertEquals(out[1], r.height());
        Compare.assertClose(c + " rgb_resized_uint8", Fixtures.floats(c, "rgb_resized_uint8.npy"), r.toFloat(), 0);
    }

    @ParameterizedTest
    @MethodSource("cases")
    void floatBilinearMatchesDepthAndNormalResize(String c) {
        int[] in = Fixtures.shape(c, "depth_proc_res.npy"), out = Fixtures.shape(c, "depth_resized_unclipped.npy");
        float[] d = Resize.resizeFloat(Fixtures.floats(c, "depth_proc_res.npy"), 1, in[0], in[1], out[0], out[1], Mode.BILINEAR);
        Compare.assertClose(c + " depth_resized_unclipped", Fixtures.floats(c, "depth_resized_unclipped.npy"), d, 0);
        int[] nin = Fixtures.shape(c, "normal_proc_res.npy");
        float[] n = Resize.resizeFloat(Fixtures.floats(c, "normal_proc_res.npy"), 3, nin[1], nin[2], out[0], out[1], Mode.BILINEAR);
        Compare.assertClose(c + " normal_resized_unclipped", Fixtures.floats(c, "normal_resized_unclipped.npy"), n, 0);
    }

    @Test
    void identitySizeKeepsValues() {
        float[] v = {1, 2, 3, 4, 5, 6};
        for (Mode m : Mode.values()) assertArrayEquals(v, Resize.resizeFloat(v, 1, 2, 3, 2, 3, m), m.name());
        byte[] b = {0, 10, (byte) 200, (byte) 255};
        for (Mode m : Mode.values()) assertArrayEquals(b, Resize.resizeUint8(b, 1, 2, 2, 2, 2, m), m.name());
    }

    @Test
    void constantImageStaysConstant() {
        float[] v = new float[2 * 13 * 17];
        java.util.Arrays.fill(v, 0.375f);
        for (Mode m : Mode.values())
            for (int[] size : new int[][] {{5, 7}, {31, 40}, {13, 3}, {1, 1}}) {
                float[] r = Resize.resizeFloat(v, 2, 13, 17, size[0], size[1], m);
                assertEquals(2 * size[0] * size[1], r.length);
                for (float x : r) assertEquals(0.375f, x, 1e-6f, m + " " + size[0] + "x" + size[1]);
            }
        byte[] b = new byte[3 * 9 * 11];
        java.util.Arrays.fill(b, (byte) 200);
        for (Mode m : Mode.values()) {
            byte[] r = Resize.resizeUint8(b, 3, 9, 11, 4, 23, m);
            for (byte x : r) assertEquals(200, x & 0xFF, m.name());
        }
    }

    @Test
    void nearestIndexPattern() {
        // 4 -> 8: each source twice; 8 -> 3: floor(i * 8/3) = 0, 2, 5; 3 -> 5: floor(i * 0.6) = 0,0,1,1,2
        float[] row4 = {10, 20, 30, 40};
        assertArrayEquals(new float[] {10, 10, 20, 20, 30, 30, 40, 40}, Resize.resizeFloat(row4, 1, 1, 4, 1, 8, Mode.NEAREST));
        float[] row8 = {0, 1, 2, 3, 4, 5, 6, 7};
        assertArrayEquals(new float[] {0, 2, 5}, Resize.resizeFloat(row8, 1, 1, 8, 1, 3, Mode.NEAREST));
        float[] col3 = {7, 8, 9};
        assertArrayEquals(new float[] {7, 7, 8, 8, 9}, Resize.resizeFloat(col3, 1, 3, 1, 5, 1, Mode.NEAREST));
    }

    @Test
    void bilinearHandChecked() {
        // 1-D 4 -> 2 (scale 2, support 2): output 0 has center 1, window [0, 3): triangle at -0.25/0.25/0.75 → 0.75, 0.75, 0.25, /1.75
        float[] r = Resize.resizeFloat(new float[] {0, 4, 8, 12}, 1, 1, 4, 1, 2, Mode.BILINEAR);
        assertEquals((4 * 0.75f + 8 * 0.25f) / 1.75f, r[0], 1e-6f);
        // output 1: center 3, window [1, 4): triangle at 1.5/2.5/3.5 → 0.25, 0.75, 0.75 → normalised /1.75
        assertEquals((4 * 0.25f + 8 * 0.75f + 12 * 0.75f) / 1.75f, r[1], 1e-5f);
        // upsampling 2 -> 4 is plain linear interpolation with edge clamping: 0, 0.25, 0.75, 1 (x 4)
        float[] u = Resize.resizeFloat(new float[] {0, 4}, 1, 1, 2, 1, 4, Mode.BILINEAR);
        assertArrayEquals(new float[] {0, 1, 3, 4}, u, 1e-6f);
    }

    @Test
    void bicubicHandChecked() {
        // Keys a = -0.5 reproduces linear ramps away from the borders when upsampling by 2.
        float[] ramp = new float[16];
        for (int i = 0; i < 16; i++) ramp[i] = i;
        float[] u = Resize.resizeFloat(ramp, 1, 1, 16, 1, 32, Mode.BICUBIC);
        for (int i = 4; i < 28; i++) assertEquals((i + 0.5f) / 2f - 0.5f, u[i], 1e-5f, "index " + i);
        // the filter itself: w(0) = 1, w(1) = 0, w(0.5) = 0.5625, w(1.5) = -0.0625
        assertEquals(1f, Resize.cubicFilter(0f));
        assertEquals(0f, Resize.cubicFilter(1f), 1e-7f);
        assertEquals(0.5625f, Resize.cubicFilter(0.5f), 1e-7f);
        assertEquals(-0.0625f, Resize.cubicFilter(-1.5f), 1e-7f);
        assertEquals(0f, Resize.cubicFilter(2.5f));
        // uint8 bicubic overshoot is clamped: a hard 0/255 edge upsampled rings below 0 and above 255
        byte[] edge = {0, 0, 0, (byte) 255, (byte) 255, (byte) 255};
        byte[] r = Resize.resizeUint8(edge, 1, 1, 6, 1, 12, Mode.BICUBIC);
        float[] f = Resize.resizeFloat(new float[] {0, 0, 0, 255, 255, 255}, 1, 1, 6, 1, 12, Mode.BICUBIC);
        boolean rings = false;
        for (float x : f) rings |= x < 0 || x > 255;
        assertTrue(rings, "test premise: float bicubic overshoots");
        for (int i = 0; i < r.length; i++) assertEquals(Math.rint(Math.min(255, Math.max(0, f[i]))), r[i] & 0xFF);
    }

    @Test
    void roundsHalfToEven() {
        // 1 x 2 -> 1 x 1: the average of 1 and 2 is 1.5 -> 2; of 2 and 3 is 2.5 -> 2 (torch.round is half-to-even)
        assertEquals(2, Resize.resizeUint8(new byte[] {1, 2}, 1, 1, 2, 1, 1, Mode.BILINEAR)[0]);
        assertEquals(2, Resize.resizeUint8(new byte[] {2, 3}, 1, 1, 2, 1, 1, Mode.BILINEAR)[0]);
    }

    @Test
    void rejectsBadShapes() {
        assertThrows(IllegalArgumentException.class, () -> Resize.resizeFloat(new float[5], 1, 2, 3, 2, 2, Mode.BILINEAR));
        assertThrows(IllegalArgumentException.class, () -> Resize.resizeFloat(new float[6], 1, 2, 3, 0, 2, Mode.BILINEAR));
        assertEquals(Mode.BICUBIC, Mode.parse("Bicubic"));
        assertThrows(IllegalArgumentException.class, () -> Mode.parse("lanczos"));
    }

    static byte[] toBytes(float[] f) {
        byte[] b = new byte[f.length];
        for (int i = 0; i < f.length; i++) b[i] = (byte) (int) f[i];
        return b;
    }
}
