package dev.onestep.io;

import dev.onestep.image.ColorLut;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.awt.image.WritableRaster;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.Arrays;

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
 *   <li>{@link #uncertaintyPng}: 8-bit grey PNG as diffusers' {@code MarigoldImageProcessor.visualize_uncertainty}
 *       (the 95th percentile is white).</li>
 * </ul>
 * Each image also exists as a {@link BufferedImage} ({@link #depthImage}, {@link #depth16Image},
 * {@link #normalsImage}, {@link #uncertaintyImage}) for callers that write it elsewhere ({@link #writePng(OutputStream, BufferedImage)}).
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
        writePng(path, depth16Image(d, h, w));
    }

    /** A depth map in [0, 1] as a 16-bit grey image of round(d·65535) (values clipped to [0, 1]; NaN → 0). */
    public static BufferedImage depth16Image(float[] d, int h, int w) {
        check(d, 1, h, w);
        BufferedImage bi = new BufferedImage(w, h, BufferedImage.TYPE_USHORT_GRAY);
        int[] v = new int[d.length];
        for (int i = 0; i < v.length; i++) v[i] = depth16(d[i]);
        bi.getRaster().setSamples(0, 0, w, h, 0, v);
        return bi;
    }

    /** The 16-bit value written for a depth: round(clip(d, 0, 1)·65535), NaN → 0. */
    public static int depth16(float d) {
        if (Float.isNaN(d)) return 0;
        return (int) Math.round(Math.min(1.0, Math.max(0.0, (double) d)) * 65535.0);
    }

    /** Writes a depth map in [0, 1] colourised with matplotlib's Spectral map as an 8-bit RGB PNG. */
    public static void depthColor(Path path, float[] d, int h, int w) throws IOException {
        depthColor(path, d, h, w, ColorLut.SPECTRAL);
    }

    /** Writes a depth map in [0, 1] colourised with {@code lut} as an 8-bit RGB PNG. */
    public static void depthColor(Path path, float[] d, int h, int w, ColorLut lut) throws IOException {
        writePng(path, depthImage(d, h, w, lut));
    }

    /** A depth map in [0, 1] colourised with {@code lut} (values clipped to [0, 1]; NaN black). */
    public static BufferedImage depthImage(float[] d, int h, int w, ColorLut lut) {
        check(d, 1, h, w);
        return rgbImage(lut.colorize(d), h, w);
    }

    /** Writes normals [3, H, W] in [−1, 1] as an 8-bit RGB PNG of (n + 1)/2·255, truncated as the reference. */
    public static void normalsPng(Path path, float[] n, int h, int w) throws IOException {
        writePng(path, normalsImage(n, h, w));
    }

    /** Normals [3, H, W] in [−1, 1] as an 8-bit RGB image of (n + 1)/2·255, truncated as the reference. */
    public static BufferedImage normalsImage(float[] n, int h, int w) {
        check(n, 3, h, w);
        byte[] planes = new byte[n.length];
        for (int i = 0; i < n.length; i++) planes[i] = (byte) normal8(n[i]);
        return rgbImage(planes, h, w);
    }

    /** Writes an uncertainty map [H, W] (≥ 0) as an 8-bit grey PNG ({@link #uncertaintyImage}). */
    public static void uncertaintyPng(Path path, float[] u, int h, int w) throws IOException {
        writePng(path, uncertaintyImage(u, h, w));
    }

    /**
     * An uncertainty map [H, W] as diffusers' {@code visualize_uncertainty} draws it: {@code clip(u·255 / p95, 0, 255)}
     * truncated to 8 bits in float32, p95 numpy's (linear) 95th percentile of the map. A map whose p95 is 0 is black
     * where u is 0 and white elsewhere (numpy's division by zero gives 0·∞ = NaN → 0 and ∞ → 255). A negative or
     * NaN value is refused, as diffusers refuses it.
     */
    public static BufferedImage uncertaintyImage(float[] u, int h, int w) {
        check(u, 1, h, w);
        for (float v : u)
            if (!(v >= 0)) throw new IllegalArgumentException("uncertainty must be ≥ 0 everywhere, got " + v);
        float sat = (float) percentile(u, 95);
        byte[] g = new byte[u.length];
        for (int i = 0; i < u.length; i++) {
            float v = sat == 0 ? (u[i] == 0 ? 0 : 255) : Math.min(255f, Math.max(0f, u[i] * 255f / sat));
            g[i] = (byte) (int) v;
        }
        BufferedImage bi = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_GRAY);
        int[] s = new int[g.length];
        for (int i = 0; i < g.length; i++) s[i] = g[i] & 0xFF;
        bi.getRaster().setSamples(0, 0, w, h, 0, s);
        return bi;
    }

    /** numpy.percentile(a, q) with the default "linear" method: a[⌊r⌋] + (a[⌈r⌉] − a[⌊r⌋])·frac(r), r = q/100·(n − 1). */
    static double percentile(float[] a, double q) {
        float[] s = a.clone();
        Arrays.sort(s);
        double r = q / 100.0 * (s.length - 1);
        int lo = (int) Math.floor(r), hi = Math.min(s.length - 1, lo + 1);
        double t = r - lo, x = s[lo], y = s[hi];
        return t >= 0.5 ? y - (y - x) * (1 - t) : x + (y - x) * t; // numpy's _lerp, which picks the side by t
    }

    /** The 8-bit value written for a normal component: (int)(((clip(n, −1, 1) + 1) / 2) · 255) in float32. */
    public static int normal8(float v) {
        if (Float.isNaN(v)) return 0;
        float c = Math.min(1f, Math.max(-1f, v));
        return (int) (((c + 1f) / 2f) * 255f);
    }

    /** Writes 8-bit RGB planes [3, H, W] as a PNG. */
    public static void writeRgbPng(Path path, byte[] planes, int h, int w) throws IOException {
        writePng(path, rgbImage(planes, h, w));
    }

    /** 8-bit RGB planes [3, H, W] as an image. */
    public static BufferedImage rgbImage(byte[] planes, int h, int w) {
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
        return bi;
    }

    /** Writes an image as PNG through the atomic writer: the whole file or none. */
    public static void writePng(Path path, BufferedImage bi) throws IOException {
        AtomicFiles.write(path, out -> writePng(out, bi));
    }

    /** Writes an image as PNG to {@code out} (left open). */
    public static void writePng(OutputStream out, BufferedImage bi) throws IOException {
        if (!ImageIO.write(bi, "png", out)) throw new IOException("no PNG writer for image type " + bi.getType());
    }

    private static void check(float[] a, int c, int h, int w) {
        if (h <= 0 || w <= 0 || a.length != (long) c * h * w)
            throw new IllegalArgumentException(a.length + " values for a " + (c == 1 ? "" : "[" + c + ", ") + h + "x" + w + " map");
    }
}
