package dev.onestep.image;

import dev.onestep.io.BoundedRead;

import javax.imageio.ImageIO;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Reads an image file into 8-bit RGB planes, as the reference's {@code Image.open(path).convert("RGB")} and
 * {@code pil_to_tensor}, through javax.imageio (PNG, JPEG, BMP, GIF, TIFF, WBMP).
 *
 * <ul>
 *   <li>Grey → R = G = B. Alpha is dropped without compositing (PIL's convert("RGB") does the same).
 *       Palette images (PNG, GIF) → their palette colours; transparency is ignored.</li>
 *   <li>Samples of fewer than 8 bits are stretched to 0–255 (v·255/(2^b − 1), as PIL's L;1/L;2/L;4 unpacking).</li>
 *   <li>16-bit samples (PNG, TIFF; grey or RGB) → the high byte, {@code v >> 8}. This is what PIL does for 16-bit
 *       RGB PNGs (raw mode RGB;16B keeps the most significant byte). For 16-bit <em>grey</em> PIL opens mode
 *       "I" and clips values above 255 to white when converting to RGB; we scale instead (SPEC step 1).</li>
 *   <li>CMYK JPEGs (read by the JDK since 23) are converted as PIL does for Adobe CMYK:
 *       R = (255 − C)(255 − K)/255, rounded (checked only on JDK-written files; no PIL golden).</li>
 *   <li>EXIF orientation (tags 2–8 in the APP1 Exif segment of a JPEG) is applied when {@code applyExif} is true,
 *       the default. The reference does NOT apply it (PIL's Image.open leaves pixels as stored), so a rotated
 *       phone photo gives a rotated depth map there; pass false to match the reference bit for bit.</li>
 * </ul>
 * Failures are {@link ImageException}s naming the file and the problem.
 */
public final class ImageLoader {
    private ImageLoader() {}

    /** Loads an image, applying the EXIF orientation of JPEGs. */
    public static RgbImage load(Path file) throws IOException {
        return load(file, true);
    }

    /** Loads an image; {@code applyExif} = false keeps the stored pixel order, as the reference. */
    public static RgbImage load(Path file, boolean applyExif) throws IOException {
        return load(file, applyExif, null);
    }

    /** Told an image's width and height (from its header) before its pixels are decoded; throws to refuse it. */
    @FunctionalInterface
    public interface SizeCheck {
        void check(int width, int height);
    }

    /** The most bytes an input file may have (a pipe or device is read up to this, and refused past it). */
    public static final long MAX_FILE_BYTES = 1L << 30;
    /** How long a pipe or FIFO may send nothing before the read is given up. */
    public static final java.time.Duration STALL = java.time.Duration.ofSeconds(30);

    /**
     * Loads an image; {@code sizeCheck} (may be null) sees the size from the file's header before the pixels are
     * decoded, whatever the file is: a regular file, {@code /dev/stdin}, a FIFO (read by {@link BoundedRead}, with a
     * size cap and a stall limit).
     */
    public static RgbImage load(Path file, boolean applyExif, SizeCheck sizeCheck) throws IOException {
        String name = file.getFileName() == null ? file.toString() : file.getFileName().toString();
        byte[] bytes;
        try {
            bytes = BoundedRead.readAll(file, MAX_FILE_BYTES, STALL);
        } catch (NoSuchFileException e) {
            throw new ImageException(file + ": no such file", e);
        } catch (IOException e) {
            String m = e.getMessage() != null && e.getMessage().startsWith(file.toString()) ? e.getMessage() : file + ": cannot read: " + e.getMessage();
            throw new ImageException(m, e);
        }
        if (bytes.length == 0) throw new ImageException(file + ": empty file, not an image");
        if (sizeCheck != null) {
            int[] size = ImageProbe.size(bytes);
            if (size != null) sizeCheck.check(size[0], size[1]);
        }
        BufferedImage bi;
        try {
            bi = ImageIO.read(new ByteArrayInputStream(bytes));
        } catch (OutOfMemoryError e) {
            throw new ImageException(file + ": too large to decode in this JVM's heap (raise -Xmx with ONESTEP_JAVA_OPTS=-Xmx...)", e);
        } catch (IOException | RuntimeException e) {
            throw new ImageException(file + ": cannot decode image: " + (e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName()), e);
        }
        if (bi == null) throw new ImageException(file + ": not an image in a format ImageIO reads (PNG, JPEG, BMP, GIF, TIFF)");
        if (bi.getWidth() <= 0 || bi.getHeight() <= 0)
            throw new ImageException(file + ": image has zero size " + bi.getWidth() + "x" + bi.getHeight());
        RgbImage img;
        try {
            img = convert(bi, name);
        } catch (IllegalArgumentException e) {
            throw new ImageException(file + ": " + e.getMessage(), e);
        }
        if (applyExif && isJpeg(bytes)) img = Exif.apply(img, Exif.jpegOrientation(bytes));
        return img;
    }

    /** Converts an in-memory image (library API); the same rules as {@link #load}, no EXIF. */
    public static RgbImage fromBufferedImage(BufferedImage bi) {
        return fromBufferedImage(bi, "buffered image");
    }

    public static RgbImage fromBufferedImage(BufferedImage bi, String name) {
        if (bi.getWidth() <= 0 || bi.getHeight() <= 0)
            throw new IllegalArgumentException(name + ": image has zero size");
        return convert(bi, name);
    }

    private static boolean isJpeg(byte[] b) {
        return b.length > 3 && (b[0] & 0xFF) == 0xFF && (b[1] & 0xFF) == 0xD8;
    }

    static RgbImage convert(BufferedImage bi, String name) {
        int w = bi.getWidth(), h = bi.getHeight(), n = w * h;
        byte[] planes = new byte[3 * n];
        ColorModel cm = bi.getColorModel();
        Raster r = bi.getRaster();
        if (cm instanceof IndexColorModel icm) {
            int[] idx = r.getSamples(0, 0, w, h, 0, (int[]) null);
            for (int i = 0; i < n; i++) {
                int p = idx[i];
                planes[i] = (byte) icm.getRed(p);
                planes[n + i] = (byte) icm.getGreen(p);
                planes[2 * n + i] = (byte) icm.getBlue(p);
            }
            return new RgbImage(planes, w, h, name);
        }
        int csType = cm.getColorSpace().getType();
        int colourBands = cm.getNumColorComponents();
        if (csType == ColorSpace.TYPE_CMYK && colourBands == 4 && r.getNumBands() >= 4 && r.getSampleModel().getSampleSize(0) == 8) {
            // The JDK's JPEG reader (CMYK support since JDK 23) hands the samples over in the inverted convention
            // of Adobe CMYK JPEGs (255 = no ink). PIL reads those as "CMYK;I" and converts with
            // R = (255 − C)(255 − K)/255, rounded; with inverted samples that is R = c·k/255.
            int[][] s = new int[4][];
            for (int band = 0; band < 4; band++) s[band] = r.getSamples(0, 0, w, h, band, (int[]) null);
            for (int i = 0; i < n; i++) {
                int k = s[3][i];
                planes[i] = (byte) ((s[0][i] * k + 127) / 255);
                planes[n + i] = (byte) ((s[1][i] * k + 127) / 255);
                planes[2 * n + i] = (byte) ((s[2][i] * k + 127) / 255);
            }
            return new RgbImage(planes, w, h, name);
        }
        boolean plain = !cm.isAlphaPremultiplied() && r.getNumBands() >= colourBands
                && ((csType == ColorSpace.TYPE_GRAY && colourBands == 1) || (csType == ColorSpace.TYPE_RGB && colourBands == 3));
        if (!plain) {
            // Premultiplied, CMYK, Lab...: let Java2D convert to sRGB.
            int[] argb = bi.getRGB(0, 0, w, h, null, 0, w);
            for (int i = 0; i < n; i++) {
                planes[i] = (byte) (argb[i] >> 16);
                planes[n + i] = (byte) (argb[i] >> 8);
                planes[2 * n + i] = (byte) argb[i];
            }
            return new RgbImage(planes, w, h, name);
        }
        // Read the stored samples directly: getRGB would push grey through a linear-grey → sRGB conversion.
        for (int c = 0; c < 3; c++) {
            int band = colourBands == 1 ? 0 : c;
            int bits = r.getSampleModel().getSampleSize(band);
            int[] s = r.getSamples(0, 0, w, h, band, (int[]) null);
            for (int i = 0; i < n; i++) planes[c * n + i] = (byte) to8(s[i], bits);
        }
        return new RgbImage(planes, w, h, name);
    }

    /** A sample of the given bit depth to 8 bits: high byte when wider, stretched when narrower. */
    static int to8(int v, int bits) {
        if (bits == 8) return v & 0xFF;
        if (bits > 8) return (v >>> (bits - 8)) & 0xFF;
        int max = (1 << bits) - 1;
        return v * 255 / max;
    }

}
