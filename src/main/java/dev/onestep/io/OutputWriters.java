package dev.onestep.io;

import dev.onestep.image.Colormap;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.awt.image.WritableRaster;
import java.io.IOException;
import java.nio.file.Path;

/**
 * The result files, as diffusion-e2e-ft's run.py writes them, each written to a temporary file in the target
 * folder and then renamed over the target (atomically where the file system can), so a reader never sees a
 * half-written file and a failure leaves nothing behind.
 *
 * <ul>
 *   <li>{@link #depthNpy}: float32 [H, W] in [0, 1] ({@code depth_npy/<name>_pred.npy}).</li>
 *   <li>{@link #normalsNpy}: float32 [3, H, W] in [−1, 1], channels first, as run.py's {@code np.save(pred)}
 *       (the pipeline's normal_np is the CHW tensor after squeeze).</li>
 *   <li>{@link #depthPng16}: 16-bit grey PNG of round(d·65535) (SPEC). run.py itself truncates,
 *       {@code (pred * 65535.0).astype(np.uint16)}; the two differ by at most 1 in 65535.</li>
 *   <li>{@link #depthColor}: 8-bit RGB PNG, matplotlib Spectral on [0, 1], truncated as Marigold
 *       ({@code (colored * 255).astype(np.uint8)}).</li>
 *   <li>{@link #normalsPng}: 8-bit RGB PNG of {@code (((n + 1) / 2) * 255).astype(np.uint8)} computed in float32:
 *       truncation, as the reference pipeline (SPEC's "(n + 1) / 2 · 255").</li>
 * </ul>
 */
public final class OutputWriters {
    private OutputWriters() {}

    /** Writes a depth map [H, W] as float32 .npy. */
    public static void depthNpy(Path path, float[] d, int h, int w) throws IOException {
        check(d, 1, h, w);
        AtomicFiles.write(path, out -> Npy.write(out, d, h, w));
    }

    /** Writes a normal map [3, H, W] as float32 .npy (channels first, as the reference). */
    public static void normalsNpy(Path path, float[] n, int h, int w) throws IOException {
        check(n, 3, h, w);
        AtomicFiles.write(path, out -> Npy.write(out, n, 3, h, w));
    }

    /** Writes a depth map in [0, 1] as a 16-bit grey PNG of round(d·65535) (values clipped to [0, 1]; NaN → 0). */
    public static void depthPng16(Path path, float[] d, int h, int w) throws IOException {
        check(d, 1, h, w);
        BufferedImage bi = new BufferedImage(w, h, BufferedImage.TYPE_USHORT_GRAY);
        int[] v = new int[d.length];
        for (int i = 0; i < v.length; i++) v[i] = depth16(d[i]);
        bi.getRaster().setSamples(0, 0, w, h, 0, v);
        writePng(path, bi);
    }

    /** The 16-bit value written for a depth: round(clip(d, 0, 1)·65535), NaN → 0. */
    public static int depth16(float d) {
        if (Float.isNaN(d)) return 0;
        return (int) Math.round(Math.min(1.0, Math.max(0.0, (double) d)) * 65535.0);
    }

    /** Writes a depth map in [0, 1] colourised with matplotlib's Spectral map as an 8-bit RGB PNG. */
    public static void depthColor(Path path, float[] d, int h, int w) throws IOException {
        check(d, 1, h, w);
        writeRgbPng(path, Colormap.colorize(d), h, w);
    }

    /** Writes normals [3, H, W] in [−1, 1] as an 8-bit RGB PNG of (n + 1)/2·255, truncated as the reference. */
    public static void normalsPng(Path path, float[] n, int h, int w) throws IOException {
        check(n, 3, h, w);
        byte[] planes = new byte[n.length];
        for (int i = 0; i < n.length; i++) planes[i] = (byte) normal8(n[i]);
        writeRgbPng(path, planes, h, w);
    }

    /** The 8-bit value written for a normal component: (int)(((clip(n, −1, 1) + 1) / 2) · 255) in float32. */
    public static int normal8(float v) {
        if (Float.isNaN(v)) return 0;
        float c = Math.min(1f, Math.max(-1f, v));
        return (int) (((c + 1f) / 2f) * 255f);
    }

    /** Writes 8-bit RGB planes [3, H, W] as a PNG. */
    public static void writeRgbPng(Path path, byte[] planes, int h, int w) throws IOException {
        if (h <= 0 || w <= 0 || planes.length != 3L * h * w)
            throw new IllegalArgumentException(planes.length + " bytes for a [3, " + h + ", " + w + "] image");
        BufferedImage bi = new BufferedImage(w, h, BufferedImage.TYPE_3BYTE_BGR);
        WritableRaster r = bi.getRaster();
        int n = h * w;
        int[] s = new int[n];
        for (int c = 0; c < 3; c++) {
            for (int i = 0; i < n; i++) s[i] = planes[c * n + i] & 0xFF;
            r.setSamples(0, 0, w, h, c, s);   // band 0 = R for TYPE_3BYTE_BGR's sample model
        }
        writePng(path, bi);
    }

    private static void writePng(Path path, BufferedImage bi) throws IOException {
        AtomicFiles.write(path, out -> {
            if (!ImageIO.write(bi, "png", out)) throw new IOException("no PNG writer for image type " + bi.getType());
        });
    }

    private static void check(float[] a, int c, int h, int w) {
        if (h <= 0 || w <= 0 || a.length != (long) c * h * w)
            throw new IllegalArgumentException(a.length + " values for a " + (c == 1 ? "" : "[" + c + ", ") + h + "x" + w + " map");
    }
}
