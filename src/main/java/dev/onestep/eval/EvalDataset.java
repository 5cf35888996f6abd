package dev.onestep.eval;

import dev.onestep.io.Npy;
import dev.onestep.tensor.Tensor;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Stream;

/**
 * An evaluation folder:
 * <pre>
 *   DIR/rgb/&lt;stem&gt;.png|jpg|jpeg           input images
 *   DIR/depth/&lt;stem&gt;.png                   16-bit depth, value / depthScale metres (default 1000: millimetres; 0 = invalid)
 *   DIR/depth/&lt;stem&gt;.npy                   float depth in metres [H, W] (or [1, H, W])
 *   DIR/normals/&lt;stem&gt;.npy                 float normals [3, H, W] (or [H, W, 3]); all-zero = invalid
 *   DIR/normals/&lt;stem&gt;.png                 8-bit RGB normals, n = v / 255 · 2 − 1
 *   DIR/mask/&lt;stem&gt;.png|npy (optional)     validity mask, non-zero = valid
 * </pre>
 * Samples are the rgb files with a ground truth of the asked kind, sorted by name.
 */
public final class EvalDataset {
    static final Set<String> RGB_EXT = Set.of("png", "jpg", "jpeg");
    /** GT normals shorter than this are treated as missing. */
    static final double MIN_NORMAL_LENGTH = 0.5;

    public record Sample(String stem, Path rgb, Path gt, Path mask) {}

    /** A ground-truth map: channels-first float values [c, h, w]. */
    public record Map(float[] data, int channels, int height, int width) {}

    private final Path dir;
    private final List<Sample> samples;

    private EvalDataset(Path dir, List<Sample> samples) {
        this.dir = dir;
        this.samples = samples;
    }

    public Path dir() { return dir; }

    public List<Sample> samples() { return samples; }

    /** Lists DIR/rgb and pairs each image with DIR/depth (normals: DIR/normals) and the optional mask. */
    public static EvalDataset open(Path dir, boolean normals) throws IOException {
        Path rgbDir = dir.resolve("rgb");
        String gtName = normals ? "normals" : "depth";
        if (!Files.isDirectory(rgbDir)) throw new IOException(dir + ": no rgb/ folder (expected DIR/rgb/*.png|jpg and DIR/" + gtName + "/)");
        List<Sample> out = new ArrayList<>();
        List<Path> rgbs;
        try (Stream<Path> s = Files.list(rgbDir)) {
            rgbs = s.filter(p -> RGB_EXT.contains(ext(p))).sorted().toList();
        }
        for (Path rgb : rgbs) {
            String stem = stem(rgb);
            Path gt = firstExisting(dir.resolve(gtName), stem, "npy", "png");
            if (gt == null) continue;
            out.add(new Sample(stem, rgb, gt, firstExisting(dir.resolve("mask"), stem, "npy", "png")));
        }
        if (out.isEmpty()) throw new IOException(dir + ": no image in rgb/ has a ground truth in " + gtName + "/");
        return new EvalDataset(dir, out);
    }

    /** Reads a depth GT in metres [1, h, w]. */
    public static Map readDepth(Path file, double pngScale) throws IOException {
        if (ext(file).equals("npy")) {
            try (Tensor t = Npy.read(file)) {
                int[] s = t.shape();
                int h = s[s.length - 2], w = s[s.length - 1];
                if (t.numel() != (long) h * w) throw new IOException(file + ": depth must be [H, W], got " + java.util.Arrays.toString(s));
                return new Map(t.toFloatArray(), 1, h, w);
            }
        }
        Raster r = readImage(file).getRaster();
        int h = r.getHeight(), w = r.getWidth();
        int[] v = r.getSamples(0, 0, w, h, 0, (int[]) null);
        float[] d = new float[v.length];
        for (int i = 0; i < v.length; i++) d[i] = (float) (v[i] / pngScale);
        return new Map(d, 1, h, w);
    }

    /** Reads a normals GT [3, h, w]. */
    public static Map readNormals(Path file) throws IOException {
        if (ext(file).equals("npy")) {
            try (Tensor t = Npy.read(file)) {
                int[] s = t.shape();
                float[] a = t.toFloatArray();
                if (s.length == 3 && s[0] == 3) return new Map(a, 3, s[1], s[2]);
                if (s.length == 3 && s[2] == 3) {
                    int h = s[0], w = s[1], n = h * w;
                    float[] chw = new float[a.length];
                    for (int i = 0; i < n; i++) for (int c = 0; c < 3; c++) chw[c * n + i] = a[i * 3 + c];
                    return new Map(chw, 3, h, w);
                }
                throw new IOException(file + ": normals must be [3, H, W] or [H, W, 3], got " + java.util.Arrays.toString(s));
            }
        }
        Raster r = readImage(file).getRaster();
        int h = r.getHeight(), w = r.getWidth(), n = h * w;
        if (r.getNumBands() < 3) throw new IOException(file + ": normals PNG must be RGB");
        float[] d = new float[3 * n];
        for (int c = 0; c < 3; c++) {
            int[] v = r.getSamples(0, 0, w, h, c, (int[]) null);
            for (int i = 0; i < n; i++) d[c * n + i] = v[i] / 255f * 2f - 1f;
        }
        return new Map(d, 3, h, w);
    }

    /** Where a GT normal is usable: length ≥ 0.5. */
    public static boolean[] normalsValid(Map gt) {
        int n = gt.height() * gt.width();
        boolean[] m = new boolean[n];
        float[] a = gt.data();
        for (int i = 0; i < n; i++) {
            double l = Math.sqrt((double) a[i] * a[i] + (double) a[n + i] * a[n + i] + (double) a[2 * n + i] * a[2 * n + i]);
            m[i] = l >= MIN_NORMAL_LENGTH;
        }
        return m;
    }

    /** Reads a mask (non-zero = valid), or null for none. */
    public static boolean[] readMask(Path file, int h, int w) throws IOException {
        if (file == null) return null;
        float[] v;
        int mh, mw;
        if (ext(file).equals("npy")) {
            try (Tensor t = Npy.read(file)) {
                int[] s = t.shape();
                mh = s[s.length - 2];
                mw = s[s.length - 1];
                v = t.toFloatArray();
            }
        } else {
            Raster r = readImage(file).getRaster();
            mh = r.getHeight();
            mw = r.getWidth();
            int[] iv = r.getSamples(0, 0, mw, mh, 0, (int[]) null);
            v = new float[iv.length];
            for (int i = 0; i < iv.length; i++) v[i] = iv[i];
        }
        if (mh != h || mw != w || v.length != h * w) throw new IOException(file + ": mask is " + mw + "×" + mh + ", ground truth " + w + "×" + h);
        boolean[] m = new boolean[v.length];
        for (int i = 0; i < v.length; i++) m[i] = v[i] != 0;
        return m;
    }

    /** A [c, h, w] map cut to rows [top, top + ch), cols [left, left + cw). */
    public static Map crop(Map m, int top, int left, int ch, int cw) {
        int n = ch * cw;
        float[] out = new float[m.channels() * n];
        for (int c = 0; c < m.channels(); c++)
            for (int y = 0; y < ch; y++)
                System.arraycopy(m.data(), (c * m.height() + top + y) * m.width() + left, out, c * n + y * cw, cw);
        return new Map(out, m.channels(), ch, cw);
    }

    /** A mask cut like {@link #crop}. */
    public static boolean[] crop(boolean[] m, int w, int top, int left, int ch, int cw) {
        if (m == null) return null;
        boolean[] out = new boolean[ch * cw];
        for (int y = 0; y < ch; y++) System.arraycopy(m, (top + y) * w + left, out, y * cw, cw);
        return out;
    }

    private static BufferedImage readImage(Path file) throws IOException {
        BufferedImage bi = ImageIO.read(file.toFile());
        if (bi == null) throw new IOException(file + ": not a readable image");
        return bi;
    }

    private static Path firstExisting(Path dir, String stem, String... exts) {
        for (String e : exts) {
            Path p = dir.resolve(stem + "." + e);
            if (Files.isRegularFile(p)) return p;
        }
        return null;
    }

    static String ext(Path p) {
        String n = p.getFileName().toString();
        int dot = n.lastIndexOf('.');
        return dot < 0 ? "" : n.substring(dot + 1).toLowerCase(Locale.ROOT);
    }

    static String stem(Path p) {
        String n = p.getFileName().toString();
        int dot = n.lastIndexOf('.');
        return dot > 0 ? n.substring(0, dot) : n;
    }
}
