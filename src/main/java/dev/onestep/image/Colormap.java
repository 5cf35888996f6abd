package dev.onestep.image;

/**
 * matplotlib's "Spectral" colour map, as Marigold's {@code colorize_depth_maps} uses it.
 *
 * <p>matplotlib builds it with {@code LinearSegmentedColormap.from_list("Spectral", _Spectral_data, N=256)}
 * from ColorBrewer's 11 colours (matplotlib/_cm.py); {@code _create_lookup_table} samples the piecewise-linear
 * segments at 256 points in double. {@code cmap(x)} for a float x in [0, 1] takes entry
 * {@code (int)(x·256)}, with x = 1 mapped to 255 (x·256 is exact in float32). Marigold then does
 * {@code (rgb · 255).astype(uint8)}: truncation, in double. This class reproduces those steps.
 */
public final class Colormap {
    private Colormap() {}

    /** ColorBrewer Spectral, 11 classes (matplotlib _cm._Spectral_data). */
    private static final double[][] SPECTRAL_DATA = {
            {0.61960784313725492, 0.003921568627450980, 0.25882352941176473},
            {0.83529411764705885, 0.24313725490196078, 0.30980392156862746},
            {0.95686274509803926, 0.42745098039215684, 0.2627450980392157},
            {0.99215686274509807, 0.68235294117647061, 0.38039215686274508},
            {0.99607843137254903, 0.8784313725490196, 0.54509803921568623},
            {1.0, 1.0, 0.74901960784313726},
            {0.90196078431372551, 0.96078431372549022, 0.59607843137254901},
            {0.6705882352941176, 0.8666666666666667, 0.64313725490196083},
            {0.4, 0.76078431372549016, 0.6470588235294118},
            {0.19607843137254902, 0.53333333333333333, 0.74117647058823533},
            {0.36862745098039218, 0.30980392156862746, 0.63529411764705879},
    };

    public static final int N = 256;

    /** The 256 × 3 lookup table (double, 0–1), as matplotlib's {@code Spectral._lut[:256, :3]}. */
    private static final double[][] LUT = buildLut();

    /** The same table as bytes, truncated as {@code (lut · 255).astype(uint8)}. */
    private static final byte[][] LUT8 = new byte[N][3];

    static {
        for (int i = 0; i < N; i++)
            for (int c = 0; c < 3; c++) LUT8[i][c] = (byte) (int) (LUT[i][c] * 255);
    }

    private static double[][] buildLut() {
        int k = SPECTRAL_DATA.length;
        // from_list: positions np.linspace(0, 1, k) = i * (1/(k-1)), last exactly 1; then x * (N - 1)
        double[] x = linspace(k);
        for (int i = 0; i < k; i++) x[i] *= (N - 1);
        double[] xind = linspace(N);
        for (int i = 0; i < N; i++) xind[i] = (N - 1) * xind[i];   // ** gamma (1.0) is exact
        double[][] lut = new double[N][3];
        for (int c = 0; c < 3; c++) {
            lut[0][c] = SPECTRAL_DATA[0][c];
            lut[N - 1][c] = SPECTRAL_DATA[k - 1][c];
            for (int i = 1; i < N - 1; i++) {
                int ind = 0;   // np.searchsorted(x, xind[i]), side='left'
                while (ind < k && x[ind] < xind[i]) ind++;
                double distance = (xind[i] - x[ind - 1]) / (x[ind] - x[ind - 1]);
                double y0 = SPECTRAL_DATA[ind][c], y1 = SPECTRAL_DATA[ind - 1][c];
                lut[i][c] = Math.min(1.0, Math.max(0.0, distance * (y0 - y1) + y1));
            }
        }
        return lut;
    }

    /** numpy.linspace(0, 1, num): arange(num) · (1/(num − 1)), last element set to 1. */
    private static double[] linspace(int num) {
        double step = 1.0 / (num - 1);
        double[] v = new double[num];
        for (int i = 0; i < num; i++) v[i] = i * step;
        v[num - 1] = 1.0;
        return v;
    }

    /** The lookup index for a value: (int)(x·256) in float, 1 → 255, clipped to [0, 255]; NaN → −1 ("bad"). */
    public static int index(float x) {
        if (Float.isNaN(x)) return -1;   // matplotlib's "bad" colour: transparent black
        float xa = x * N;
        if (xa == N) xa = N - 1;
        if (xa < 0) return 0;
        if (xa >= N) return N - 1;
        return (int) xa;
    }

    /** The colour of x as doubles in [0, 1] (matplotlib's {@code cmap(x)[:3]}). */
    public static double[] spectral(float x) {
        int i = index(x);
        return i < 0 ? new double[3] : LUT[i].clone();
    }

    /** The colour of x as 8-bit RGB, truncated as Marigold does. */
    public static int[] spectral8(float x) {
        int i = index(x);
        if (i < 0) return new int[3];
        byte[] b = LUT8[i];
        return new int[] {b[0] & 0xFF, b[1] & 0xFF, b[2] & 0xFF};
    }

    /**
     * Colourises a depth map in [0, 1] ([H, W] values; clipped to [0, 1] first, as colorize_depth_maps with
     * min 0, max 1) into 8-bit RGB planes [3, H, W].
     */
    public static byte[] colorize(float[] depth) {
        int n = depth.length;
        byte[] out = new byte[3 * n];
        for (int i = 0; i < n; i++) {
            float d = depth[i];
            if (Float.isNaN(d)) continue;   // black, as matplotlib's bad colour after ·255
            byte[] c = LUT8[index(Math.min(1f, Math.max(0f, d)))];
            out[i] = c[0];
            out[n + i] = c[1];
            out[2 * n + i] = c[2];
        }
        return out;
    }
}
