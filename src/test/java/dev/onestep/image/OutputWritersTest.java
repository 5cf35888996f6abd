package dev.onestep.image;

import dev.onestep.io.Npy;
import dev.onestep.io.OutputWriters;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

class OutputWritersTest {
    @TempDir
    Path tmp;

    static final int H = 3, W = 4;

    static float[] depth() {
        float[] d = new float[H * W];
        for (int i = 0; i < d.length; i++) d[i] = i / (float) (d.length - 1);
        d[5] = 1.2f;      // clipped
        d[6] = -0.1f;     // clipped
        return d;
    }

    @Test
    void npyRoundTrips() throws IOException {
        float[] d = depth();
        Path p = tmp.resolve("d.npy");
        OutputWriters.depthNpy(p, d, H, W);
        assertArrayEquals(new int[] {H, W}, Npy.shape(p));
        assertArrayEquals(d, Npy.readFloats(p));
        float[] n = new float[3 * H * W];
        for (int i = 0; i < n.length; i++) n[i] = (i % 7) / 3f - 1f;
        Path q = tmp.resolve("n.npy");
        OutputWriters.normalsNpy(q, n, H, W);
        assertArrayEquals(new int[] {3, H, W}, Npy.shape(q));
        assertArrayEquals(n, Npy.readFloats(q));
        assertNoTempFiles();
    }

    @Test
    void depthPng16RoundTrips() throws IOException {
        float[] d = depth();
        Path p = tmp.resolve("d16.png");
        OutputWriters.depthPng16(p, d, H, W);
        BufferedImage bi = ImageIO.read(p.toFile());
        assertEquals(BufferedImage.TYPE_USHORT_GRAY, bi.getType());
        assertEquals(W, bi.getWidth());
        int[] s = bi.getRaster().getSamples(0, 0, W, H, 0, (int[]) null);
        for (int i = 0; i < d.length; i++)
            assertEquals(Math.round(Math.min(1, Math.max(0, d[i])) * 65535.0), s[i], "index " + i);
        assertEquals(65535, s[5]);
        assertEquals(0, s[6]);
        assertEquals(32768, OutputWriters.depth16(0.5f));   // 32767.5 rounds up
        // reading it back through the loader takes the high byte
        RgbImage img = ImageLoader.load(p);
        assertEquals(s[11] >> 8, img.get(0, 2, 3));
    }

    @Test
    void spectralKnownValues() {
        double[] c0 = ColorLut.SPECTRAL.color(0f), c1 = ColorLut.SPECTRAL.color(1f), mid = ColorLut.SPECTRAL.color(0.5f);
        assertArrayEquals(new double[] {0.6196078431372549, 0.00392156862745098, 0.25882352941176473}, c0, 1e-15);
        assertArrayEquals(new double[] {0.3686274509803922, 0.30980392156862746, 0.6352941176470588}, c1, 1e-15);
        // matplotlib: cm.get_cmap("Spectral")(0.5)
        assertArrayEquals(new double[] {0.998077662437524, 0.9992310649750096, 0.7460207612456747}, mid, 1e-12);
        assertEquals(0, ColorLut.index(0f));
        assertEquals(255, ColorLut.index(1f));
        assertEquals(255, ColorLut.index(0.999f));
        assertEquals(127, ColorLut.index(0.499f));
        assertEquals(128, ColorLut.index(0.5f));
        assertArrayEquals(new int[] {158, 1, 66}, ColorLut.SPECTRAL.color8(0f));   // (int)(0.6196·255) = 158
        assertArrayEquals(new int[] {94, 79, 162}, ColorLut.SPECTRAL.color8(1f));   // 79/255 · 255 stays 79
        assertArrayEquals(new int[] {0, 0, 0}, ColorLut.SPECTRAL.color8(Float.NaN));
    }

    @Test
    void depthColorWritesSpectral() throws IOException {
        float[] d = depth();
        Path p = tmp.resolve("c.png");
        OutputWriters.depthColor(p, d, H, W);
        RgbImage img = ImageLoader.load(p);
        for (int i = 0; i < d.length; i++) {
            int[] e = ColorLut.SPECTRAL.color8(Math.min(1f, Math.max(0f, d[i])));
            for (int c = 0; c < 3; c++) assertEquals(e[c], img.get(c, i / W, i % W), "pixel " + i + " channel " + c);
        }
    }

    @Test
    void normalsPngTruncatesLikeTheReference() throws IOException {
        float[] n = new float[3 * H * W];
        for (int i = 0; i < n.length; i++) n[i] = (i % 9) / 4f - 1f;
        n[0] = 1.5f;
        n[1] = -2f;
        Path p = tmp.resolve("n.png");
        OutputWriters.normalsPng(p, n, H, W);
        RgbImage img = ImageLoader.load(p);
        for (int i = 0; i < n.length; i++) assertEquals(OutputWriters.normal8(n[i]), img.planes()[i] & 0xFF, "index " + i);
        assertEquals(255, OutputWriters.normal8(1f));
        assertEquals(0, OutputWriters.normal8(-1f));
        assertEquals(127, OutputWriters.normal8(0f));      // (int) 127.5
        assertEquals(255, OutputWriters.normal8(1.5f));
    }

    @Test
    void overwritesAnExistingFile() throws IOException {
        Path p = tmp.resolve("d.npy");
        Files.writeString(p, "old");
        OutputWriters.depthNpy(p, depth(), H, W);
        assertEquals(H * W, Npy.readFloats(p).length);
        assertNoTempFiles();
    }

    @Test
    void failureLeavesNoTempFileAndKeepsTheOldTarget() throws IOException {
        // content that fails half-way
        Path p = tmp.resolve("half.npy");
        Files.writeString(p, "previous");
        IOException e = assertThrows(IOException.class, () -> dev.onestep.io.AtomicFiles.write(p, out -> {
            out.write(new byte[100]);
            throw new IOException("disk full (simulated)");
        }));
        assertTrue(e.getMessage().contains("half.npy"), e.getMessage());
        assertEquals("previous", Files.readString(p));
        assertNoTempFiles();

        // a directory where the file should be
        Path dir = Files.createDirectory(tmp.resolve("taken.png"));
        IOException e2 = assertThrows(IOException.class, () -> OutputWriters.depthColor(dir, depth(), H, W));
        assertTrue(e2.getMessage().contains("taken.png"), e2.getMessage());
        assertTrue(Files.isDirectory(dir));
        assertNoTempFiles();

        // a missing folder
        assertThrows(IOException.class, () -> OutputWriters.depthNpy(tmp.resolve("no/such/d.npy"), depth(), H, W));
        assertNoTempFiles();
    }

    @Test
    void readOnlyFolderFailsCleanly() throws IOException {
        Path ro = Files.createDirectory(tmp.resolve("ro"));
        try {
            Files.setPosixFilePermissions(ro, PosixFilePermissions.fromString("r-xr-xr-x"));
        } catch (UnsupportedOperationException e) {
            return;   // not a POSIX file system
        }
        try {
            if (Files.isWritable(ro)) return;   // running as root: permissions do not bind
            IOException e = assertThrows(IOException.class, () -> OutputWriters.depthPng16(ro.resolve("d.png"), depth(), H, W));
            assertTrue(e.getMessage().contains("d.png"), e.getMessage());
            try (Stream<Path> s = Files.list(ro)) {
                assertEquals(0, s.count());
            }
        } finally {
            Files.setPosixFilePermissions(ro, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
    }

    @Test
    void rejectsWrongSizes() {
        assertThrows(IllegalArgumentException.class, () -> OutputWriters.depthNpy(tmp.resolve("x.npy"), new float[5], 2, 3));
        assertThrows(IllegalArgumentException.class, () -> OutputWriters.normalsPng(tmp.resolve("x.png"), new float[6], 2, 3));
    }

    private void assertNoTempFiles() throws IOException {
        try (Stream<Path> s = Files.walk(tmp)) {
            assertEquals(0, s.filter(f -> f.getFileName().toString().endsWith(".tmp")).count(), "temporary files left");
        }
    }
}
