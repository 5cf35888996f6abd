package dev.onestep.image;

import dev.onestep.testutil.Compare;
import dev.onestep.testutil.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageOutputStream;
import java.awt.Transparency;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.awt.image.WritableRaster;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class ImageLoaderTest {
    @TempDir
    Path tmp;

    static List<String> cases() { return Fixtures.cases(); }

    @ParameterizedTest
    @MethodSource("cases")
    void fixturePngMatchesPilToTensor(String c) throws IOException {
        RgbImage img = ImageLoader.load(Fixtures.caseDir(c).resolve("input.png"));
        int[] s = Fixtures.shape(c, "input_rgb_uint8.npy");
        assertEquals(s[2], img.width());
        assertEquals(s[1], img.height());
        assertEquals("input.png", img.name());
        Compare.assertClose(c + " input_rgb_uint8", Fixtures.floats(c, "input_rgb_uint8.npy"), img.toFloat(), 0);
    }

    @Test
    void greyIsReplicated() throws IOException {
        BufferedImage bi = new BufferedImage(3, 2, BufferedImage.TYPE_BYTE_GRAY);
        int[] v = {0, 17, 100, 128, 200, 255};
        bi.getRaster().setSamples(0, 0, 3, 2, 0, v);
        RgbImage img = ImageLoader.load(write(bi, "png", "grey.png"));
        for (int i = 0; i < 6; i++)
            for (int c = 0; c < 3; c++) assertEquals(v[i], img.get(c, i / 3, i % 3), "raw grey value, no gamma conversion");
    }

    @Test
    void alphaIsDroppedWithoutCompositing() throws IOException {
        BufferedImage bi = new BufferedImage(2, 1, BufferedImage.TYPE_INT_ARGB);
        bi.setRGB(0, 0, 0x00FF8040);   // fully transparent orange stays orange
        bi.setRGB(1, 0, 0x80102030);
        RgbImage img = ImageLoader.load(write(bi, "png", "rgba.png"));
        assertArrayEquals(new int[] {0xFF, 0x80, 0x40}, px(img, 0, 0));
        assertArrayEquals(new int[] {0x10, 0x20, 0x30}, px(img, 1, 0));
        // grey + alpha (2-band component model)
        ComponentColorModel cm = new ComponentColorModel(ColorSpace.getInstance(ColorSpace.CS_GRAY), true, false,
                Transparency.TRANSLUCENT, DataBuffer.TYPE_BYTE);
        WritableRaster r = cm.createCompatibleWritableRaster(2, 1);
        r.setPixel(0, 0, new int[] {77, 0});
        r.setPixel(1, 0, new int[] {200, 255});
        RgbImage g = ImageLoader.load(write(new BufferedImage(cm, r, false, null), "png", "la.png"));
        assertArrayEquals(new int[] {77, 77, 77}, px(g, 0, 0));
        assertArrayEquals(new int[] {200, 200, 200}, px(g, 1, 0));
    }

    @ParameterizedTest
    @ValueSource(strings = {"png", "gif"})
    void paletteBecomesRgb(String fmt) throws IOException {
        byte[] rr = {(byte) 255, 0, 10, 0}, gg = {0, (byte) 255, 20, 0}, bb = {0, 0, 30, (byte) 255};
        IndexColorModel icm = new IndexColorModel(8, 4, rr, gg, bb);
        BufferedImage bi = new BufferedImage(4, 1, BufferedImage.TYPE_BYTE_INDEXED, icm);
        bi.getRaster().setSamples(0, 0, 4, 1, 0, new int[] {0, 1, 2, 3});
        RgbImage img = ImageLoader.load(write(bi, fmt, "pal." + fmt));
        assertArrayEquals(new int[] {255, 0, 0}, px(img, 0, 0), fmt);
        assertArrayEquals(new int[] {0, 255, 0}, px(img, 1, 0), fmt);
        assertArrayEquals(new int[] {10, 20, 30}, px(img, 2, 0), fmt);
        assertArrayEquals(new int[] {0, 0, 255}, px(img, 3, 0), fmt);
    }

    @ParameterizedTest
    @ValueSource(strings = {"bmp", "png", "tiff"})
    void rgbRoundTrips(String fmt) throws IOException {
        BufferedImage bi = new BufferedImage(5, 3, BufferedImage.TYPE_3BYTE_BGR);
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 5; x++) bi.setRGB(x, y, (x * 50) << 16 | (y * 100) << 8 | (x * y * 17));
        RgbImage img = ImageLoader.load(write(bi, fmt, "rgb." + fmt));
        assertEquals(5, img.width());
        assertEquals(3, img.height());
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 5; x++) assertArrayEquals(new int[] {x * 50, y * 100, x * y * 17}, px(img, x, y), fmt);
    }

    @Test
    void sixteenBitGreyTakesHighByte() throws IOException {
        BufferedImage bi = new BufferedImage(4, 1, BufferedImage.TYPE_USHORT_GRAY);
        bi.getRaster().setSamples(0, 0, 4, 1, 0, new int[] {0, 255, 0x1234, 65535});
        for (String fmt : new String[] {"png", "tiff"}) {
            RgbImage img = ImageLoader.load(write(bi, fmt, "g16." + fmt));
            assertArrayEquals(new int[] {0, 0, 0x12, 255}, new int[] {img.get(0, 0, 0), img.get(1, 0, 1), img.get(2, 0, 2), img.get(0, 0, 3)}, fmt);
        }
    }

    @Test
    void sixteenBitRgbTakesHighByte() throws IOException {
        ComponentColorModel cm = new ComponentColorModel(ColorSpace.getInstance(ColorSpace.CS_sRGB), false, false,
                Transparency.OPAQUE, DataBuffer.TYPE_USHORT);
        WritableRaster r = cm.createCompatibleWritableRaster(2, 1);
        r.setPixel(0, 0, new int[] {0xFFFF, 0x8000, 0x00FF});
        r.setPixel(1, 0, new int[] {0x0100, 0xABCD, 0x7FFF});
        BufferedImage bi = new BufferedImage(cm, r, false, null);
        for (String fmt : new String[] {"png", "tiff"}) {
            RgbImage img = ImageLoader.load(write(bi, fmt, "rgb16." + fmt));
            assertArrayEquals(new int[] {0xFF, 0x80, 0x00}, px(img, 0, 0), fmt);
            assertArrayEquals(new int[] {0x01, 0xAB, 0x7F}, px(img, 1, 0), fmt);
        }
    }

    @Test
    void lowBitGreyIsStretched() {
        assertEquals(255, ImageLoader.to8(1, 1));
        assertEquals(0x55 * 2, ImageLoader.to8(2, 2));
        assertEquals(0x11 * 7, ImageLoader.to8(7, 4));
        assertEquals(0xAB, ImageLoader.to8(0xABCD, 16));
    }

    @Test
    void premultipliedBufferedImageIsUnpremultiplied() {
        BufferedImage bi = new BufferedImage(1, 1, BufferedImage.TYPE_INT_ARGB_PRE);
        bi.setRGB(0, 0, 0xFF102030);
        RgbImage img = ImageLoader.fromBufferedImage(bi);
        assertArrayEquals(new int[] {0x10, 0x20, 0x30}, px(img, 0, 0));
        assertEquals("buffered image", img.name());
    }

    @Test
    void cmykJpegBecomesRgb() throws IOException {
        // JDK-written 4-band JPEG: ink (C, M, Y, K); left half cyan+yellow ink (green), right half none (white)
        WritableRaster r = Raster.createInterleavedRaster(DataBuffer.TYPE_BYTE, 16, 16, 4, null);
        for (int y = 0; y < 16; y++)
            for (int x = 0; x < 16; x++) r.setPixel(x, y, x < 8 ? new int[] {255, 0, 255, 0} : new int[] {0, 0, 0, 0});
        ImageWriter w = ImageIO.getImageWritersByFormatName("jpeg").next();
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try (ImageOutputStream out = ImageIO.createImageOutputStream(bos)) {
            w.setOutput(out);
            w.write(null, new IIOImage(r, null, null), null);
        } finally {
            w.dispose();
        }
        RgbImage img = ImageLoader.load(writeBytes(bos.toByteArray(), "cmyk.jpg"));
        assertColour(0x00FF00, img, 3, 8);
        assertColour(0xFFFFFF, img, 12, 8);
    }

    // ---- EXIF ----

    /** A 4×2 image, distinct flat colour blocks per pixel column so JPEG keeps them recognisable. */
    private BufferedImage quadrants() {
        BufferedImage bi = new BufferedImage(32, 16, BufferedImage.TYPE_3BYTE_BGR);
        for (int y = 0; y < 16; y++)
            for (int x = 0; x < 32; x++) {
                int v = (x < 16 ? 0 : 0xFF0000) | (y < 8 ? 0 : 0x00FF00);   // TL black, TR red, BL green, BR yellow
                bi.setRGB(x, y, v);
            }
        return bi;
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void exifOrientationIsApplied(boolean littleEndian) throws IOException {
        byte[] jpeg = jpegBytes(quadrants());
        // orientation 6: rotate 90° clockwise -> 16 wide, 32 high; top-left = stored bottom-left (green)
        RgbImage r6 = ImageLoader.load(writeBytes(withOrientation(jpeg, 6, littleEndian), "o6.jpg"));
        assertEquals(16, r6.width());
        assertEquals(32, r6.height());
        assertColour(0x00FF00, r6, 4, 4);      // top-left green
        assertColour(0x000000, r6, 12, 4);     // top-right black
        assertColour(0xFFFF00, r6, 4, 28);     // bottom-left yellow
        assertColour(0xFF0000, r6, 12, 28);    // bottom-right red
        // 8: rotate 90° counter-clockwise: top-left = stored top-right (red)
        RgbImage r8 = ImageLoader.load(writeBytes(withOrientation(jpeg, 8, littleEndian), "o8.jpg"));
        assertEquals(16, r8.width());
        assertColour(0xFF0000, r8, 4, 4);
        assertColour(0x000000, r8, 4, 28);
        // 3: 180°
        RgbImage r3 = ImageLoader.load(writeBytes(withOrientation(jpeg, 3, littleEndian), "o3.jpg"));
        assertEquals(32, r3.width());
        assertColour(0xFFFF00, r3, 4, 4);
        // 2: mirror
        RgbImage r2 = ImageLoader.load(writeBytes(withOrientation(jpeg, 2, littleEndian), "o2.jpg"));
        assertColour(0xFF0000, r2, 4, 4);
        // off: stored order, as the reference
        RgbImage raw = ImageLoader.load(writeBytes(withOrientation(jpeg, 6, littleEndian), "raw.jpg"), false);
        assertEquals(32, raw.width());
        assertColour(0x000000, raw, 4, 4);
        assertEquals(6, Exif.jpegOrientation(withOrientation(jpeg, 6, littleEndian)));
        assertEquals(1, Exif.jpegOrientation(jpeg));
    }

    @Test
    void allEightOrientationsMapPixelsLikePil() {
        // 3x2 image with distinct values; expected layouts from PIL's exif_transpose
        byte[] p = new byte[18];
        for (int i = 0; i < 6; i++) { p[i] = (byte) (i + 1); p[6 + i] = (byte) (i + 1); p[12 + i] = (byte) (i + 1); }
        RgbImage img = new RgbImage(p, 3, 2, "t");   // rows: [1 2 3] [4 5 6]
        int[][] expected = {
                null, {1, 2, 3, 4, 5, 6}, {3, 2, 1, 6, 5, 4}, {6, 5, 4, 3, 2, 1}, {4, 5, 6, 1, 2, 3},
                {1, 4, 2, 5, 3, 6},   // 5 transpose: 2 wide, 3 high
                {4, 1, 5, 2, 6, 3},   // 6 rotate CW
                {6, 3, 5, 2, 4, 1},   // 7 transverse
                {3, 6, 2, 5, 1, 4}};  // 8 rotate CCW
        for (int o = 1; o <= 8; o++) {
            RgbImage r = Exif.apply(img, o);
            assertEquals(o >= 5 ? 2 : 3, r.width(), "orientation " + o);
            int[] got = new int[6];
            for (int i = 0; i < 6; i++) got[i] = r.get(1, i / r.width(), i % r.width());
            assertArrayEquals(expected[o], got, "orientation " + o);
        }
    }

    // ---- errors ----

    @Test
    void errorsNameTheFileAndTheProblem() throws IOException {
        Path missing = tmp.resolve("nope.png");
        ImageException e1 = assertThrows(ImageException.class, () -> ImageLoader.load(missing));
        assertTrue(e1.getMessage().contains("nope.png") && e1.getMessage().contains("no such file"), e1.getMessage());

        Path text = Files.writeString(tmp.resolve("notes.jpg"), "this is not an image");
        ImageException e2 = assertThrows(ImageException.class, () -> ImageLoader.load(text));
        assertTrue(e2.getMessage().contains("notes.jpg") && e2.getMessage().contains("not an image"), e2.getMessage());

        Path empty = Files.write(tmp.resolve("empty.png"), new byte[0]);
        ImageException e3 = assertThrows(ImageException.class, () -> ImageLoader.load(empty));
        assertTrue(e3.getMessage().contains("empty.png") && e3.getMessage().contains("empty"), e3.getMessage());

        Path dir = Files.createDirectory(tmp.resolve("folder.png"));
        ImageException e4 = assertThrows(ImageException.class, () -> ImageLoader.load(dir));
        assertTrue(e4.getMessage().contains("folder.png"), e4.getMessage());

        // a truncated PNG
        byte[] png = Files.readAllBytes(Fixtures.caseDir("case1_80x60").resolve("input.png"));
        Path cut = Files.write(tmp.resolve("cut.png"), java.util.Arrays.copyOf(png, png.length / 2));
        ImageException e5 = assertThrows(ImageException.class, () -> ImageLoader.load(cut));
        assertTrue(e5.getMessage().contains("cut.png"), e5.getMessage());
    }

    // ---- helpers ----

    private Path write(BufferedImage bi, String fmt, String name) throws IOException {
        Path p = tmp.resolve(name);
        assertTrue(ImageIO.write(bi, fmt, p.toFile()), "ImageIO has a " + fmt + " writer for this image type");
        return p;
    }

    private Path writeBytes(byte[] b, String name) throws IOException {
        return Files.write(tmp.resolve(name), b);
    }

    private static byte[] jpegBytes(BufferedImage bi) throws IOException {
        ImageWriter w = ImageIO.getImageWritersByFormatName("jpeg").next();
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try (ImageOutputStream out = ImageIO.createImageOutputStream(bos)) {
            w.setOutput(out);
            ImageWriteParam p = w.getDefaultWriteParam();
            p.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
            p.setCompressionQuality(0.95f);
            w.write(null, new IIOImage(bi, null, null), p);
        } finally {
            w.dispose();
        }
        return bos.toByteArray();
    }

    /** Inserts an APP1 Exif segment with IFD0 = {0x0112: o} right after SOI. */
    static byte[] withOrientation(byte[] jpeg, int o, boolean le) {
        java.nio.ByteBuffer t = java.nio.ByteBuffer.allocate(8 + 2 + 12 + 4)
                .order(le ? java.nio.ByteOrder.LITTLE_ENDIAN : java.nio.ByteOrder.BIG_ENDIAN);
        t.put((byte) (le ? 'I' : 'M')).put((byte) (le ? 'I' : 'M')).putShort((short) 42).putInt(8);
        t.putShort((short) 1);
        t.putShort((short) 0x0112).putShort((short) 3).putInt(1).putShort((short) o).putShort((short) 0);
        t.putInt(0);
        byte[] tiff = t.array();
        int len = 2 + 6 + tiff.length;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(jpeg, 0, 2);
        out.write(0xFF);
        out.write(0xE1);
        out.write(len >> 8);
        out.write(len & 0xFF);
        out.writeBytes(new byte[] {'E', 'x', 'i', 'f', 0, 0});
        out.writeBytes(tiff);
        out.write(jpeg, 2, jpeg.length - 2);
        return out.toByteArray();
    }

    private static int[] px(RgbImage img, int x, int y) {
        return new int[] {img.get(0, y, x), img.get(1, y, x), img.get(2, y, x)};
    }

    private static void assertColour(int rgb, RgbImage img, int x, int y) {
        int[] p = px(img, x, y);
        int[] e = {rgb >> 16 & 0xFF, rgb >> 8 & 0xFF, rgb & 0xFF};
        for (int c = 0; c < 3; c++)
            assertEquals(e[c], p[c], 12, "channel " + c + " at (" + x + "," + y + ") of " + img.width() + "x" + img.height());
    }

}
