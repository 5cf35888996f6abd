package dev.onestep;

import dev.onestep.image.ColorLut;
import dev.onestep.io.Npy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The colour maps against matplotlib 3.10.9: the listed tables' rows as lib/matplotlib/_cm_listed.py holds them,
 * and {@code matplotlib.colormaps[name](0.5, bytes=True)} as matplotlib 3.10.9 printed it; the writers to streams
 * and the uncertainty image.
 */
class ColormapTest {
    @TempDir Path tmp;

    /** matplotlib.colormaps[name](0.5, bytes=True)[:3], printed by matplotlib 3.10.9 (entry 128 of each table). */
    @Test
    void theMiddleColourOfEachMapIsMatplotlibs() {
        int[][] expected = {{254, 254, 190}, {128, 128, 128}, {127, 127, 127}, {32, 144, 140}, {182, 54, 121}, {164, 252, 59}};
        Colormap[] maps = {Colormap.SPECTRAL, Colormap.GRAY, Colormap.BINARY, Colormap.VIRIDIS, Colormap.MAGMA, Colormap.TURBO};
        for (int i = 0; i < maps.length; i++) assertArrayEquals(expected[i], maps[i].lut().color8(0.5f), maps[i].matplotlibName());
    }

    /** First and last rows of _viridis_data, _magma_data, _turbo_data in matplotlib 3.10.9's _cm_listed.py. */
    @Test
    void theListedTablesAreMatplotlibsRows() {
        assertArrayEquals(new double[] {0.267004, 0.004874, 0.329415}, ColorLut.VIRIDIS.color(0f));
        assertArrayEquals(new double[] {0.993248, 0.906157, 0.143936}, ColorLut.VIRIDIS.color(1f));
        assertArrayEquals(new double[] {0.001462, 0.000466, 0.013866}, ColorLut.MAGMA.color(0f));
        assertArrayEquals(new double[] {0.987053, 0.991438, 0.749504}, ColorLut.MAGMA.color(1f));
        assertArrayEquals(new double[] {0.18995, 0.07176, 0.23217}, ColorLut.TURBO.color(0f));
        assertArrayEquals(new double[] {0.4796, 0.01583, 0.01055}, ColorLut.TURBO.color(1f));
        assertArrayEquals(new double[] {0.127568, 0.566949, 0.550556}, ColorLut.VIRIDIS.color(0.5f)); // row 128
    }

    /** gray is the ramp i/255 (two-point segment data sampled at 256 points), binary its reverse. */
    @Test
    void grayAndBinaryAreTheRampAndItsReverse() {
        for (int i = 0; i < ColorLut.N; i++) {
            float x = (i + 0.5f) / ColorLut.N; // inside entry i
            assertEquals(i / 255.0, ColorLut.GRAY.color(x)[1], 1e-15, "gray " + i);
            assertEquals(1 - i / 255.0, ColorLut.BINARY.color(x)[0], 1e-15, "binary " + i);
        }
        assertArrayEquals(new int[] {255, 255, 255}, ColorLut.GRAY.color8(1f));
        assertArrayEquals(new int[] {0, 0, 0}, ColorLut.BINARY.color8(1f));
    }

    @Test
    void mapsAreNamedAsMatplotlibNamesThem() {
        assertEquals(Colormap.SPECTRAL, Colormap.named("Spectral"));
        assertEquals(Colormap.GRAY, Colormap.named("grey"));
        assertEquals(Colormap.TURBO, Colormap.named("TURBO"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Colormap.named("jet"));
        assertTrue(e.getMessage().contains("'jet'") && e.getMessage().contains("viridis"), e.getMessage());
    }

    @Test
    void toImageDrawsEveryPixelWithTheMapAndTheStreamsMatchTheFiles() throws IOException {
        int w = 7, h = 5;
        float[] d = new float[w * h];
        for (int i = 0; i < d.length; i++) d[i] = i / (float) (d.length - 1) * 1.2f - 0.1f; // beyond [0, 1] at both ends
        d[3] = Float.NaN;
        DepthMap map = new DepthMap(d, w, h, null, null);
        for (Colormap c : Colormap.values()) {
            BufferedImage img = map.toImage(c);
            assertEquals(w, img.getWidth());
            assertEquals(h, img.getHeight());
            for (int i = 0; i < d.length; i++) {
                int[] e = Float.isNaN(d[i]) ? new int[3] : c.lut().color8(Math.min(1f, Math.max(0f, d[i])));
                int rgb = img.getRGB(i % w, i / w);
                assertArrayEquals(e, new int[] {rgb >> 16 & 0xFF, rgb >> 8 & 0xFF, rgb & 0xFF}, c + " pixel " + i);
            }
            Path f = tmp.resolve(c + ".png");
            map.writeColor(f, c);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            map.writeColor(out, c);
            assertArrayEquals(Files.readAllBytes(f), out.toByteArray(), c + ": stream and file differ");
        }
        Path npy = tmp.resolve("d.npy");
        map.writeNpy(npy);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        map.writeNpy(out);
        assertArrayEquals(Files.readAllBytes(npy), out.toByteArray());
        Path p16 = tmp.resolve("d16.png");
        map.writePng16(p16);
        out.reset();
        map.writePng16(out);
        assertArrayEquals(Files.readAllBytes(p16), out.toByteArray());

        float[] n = new float[3 * w * h];
        for (int i = 0; i < n.length; i++) n[i] = (i % 11) / 5f - 1f;
        NormalMap normals = new NormalMap(n, w, h, null, null);
        Path np = tmp.resolve("n.png");
        normals.writePng(np);
        out.reset();
        normals.writePng(out);
        assertArrayEquals(Files.readAllBytes(np), out.toByteArray());
        out.reset();
        normals.writeNpy(out);
        assertArrayEquals(new int[] {3, h, w}, readShape(out.toByteArray()));
    }

    /**
     * u = 0..19: numpy.percentile(u, 95) = u[18] + 0.05·(u[19] − u[18]) = 18.05 (r = 0.95·19 = 18.05), so
     * u = 10 → (int)(10·255/18.05) = 141, u = 18 → 254, u = 19 → 268 clipped to 255.
     */
    @Test
    void uncertaintyIsDrawnAsDiffusersDrawsIt() throws IOException {
        float[] u = new float[20];
        for (int i = 0; i < u.length; i++) u[i] = i;
        DepthMap map = new DepthMap(new float[20], 5, 4, null, u);
        BufferedImage img = map.uncertaintyImage().orElseThrow();
        assertEquals(BufferedImage.TYPE_BYTE_GRAY, img.getType());
        int[] px = img.getRaster().getSamples(0, 0, 5, 4, 0, new int[20]);
        assertEquals(0, px[0]);
        assertEquals(141, px[10]);
        assertEquals(254, px[18]);
        assertEquals(255, px[19]);
        Path f = tmp.resolve("u.png");
        map.writeUncertaintyPng(f);
        assertTrue(Files.size(f) > 0);
        DepthMap none = new DepthMap(new float[20], 5, 4, null, null);
        assertTrue(none.uncertaintyImage().isEmpty());
        Path g = tmp.resolve("none.png");
        assertThrows(IllegalStateException.class, () -> none.writeUncertaintyPng(g));
        assertFalse(Files.exists(g));
    }

    private int[] readShape(byte[] npy) throws IOException {
        Path f = Files.write(tmp.resolve("s.npy"), npy);
        return Npy.shape(f);
    }
}
