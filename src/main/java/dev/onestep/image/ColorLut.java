package dev.onestep.image;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * matplotlib's colour maps as 256-entry lookup tables, reproducing {@code cmap(x)} and Marigold's
 * {@code (cmap(x) · 255).astype(uint8)} exactly.
 *
 * <p>Two kinds, as in matplotlib. Segmented maps ({@link #SPECTRAL}, {@link #GRAY}, {@link #BINARY}) are built as
 * {@code LinearSegmentedColormap.from_list(name, colors, N=256)} or from two-point segment data, which
 * {@code _create_lookup_table} samples at 256 points in double (see {@link #fromList}). Listed maps
 * ({@link #VIRIDIS}, {@link #MAGMA}, {@link #TURBO}) are {@code ListedColormap(data)}: the table is the data, copied
 * from matplotlib 3.10.9's {@code _cm_listed.py} into {@code colormaps/*.txt} beside this class. Either way
 * {@code cmap(x)} for a float x in [0, 1] takes entry {@code (int)(x·256)}, with x = 1 mapped to 255 (x·256 is
 * exact in float32), and 8-bit colours are {@code (lut · 255)} truncated, in double.
 */
public final class ColorLut {
    public static final int N = 256;

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

    /** matplotlib "Spectral" (ColorBrewer), the map Marigold's {@code colorize_depth_maps} uses: OneStep's default. */
    public static final ColorLut SPECTRAL = new ColorLut("Spectral", fromList(SPECTRAL_DATA));
    /** matplotlib "gray" (also "grey"): black at 0 to white at 1 (_cm._gray_data). */
    public static final ColorLut GRAY = new ColorLut("gray", fromList(new double[][] {{0, 0, 0}, {1, 1, 1}}));
    /** matplotlib "binary": white at 0 to black at 1 (_cm._binary_data). */
    public static final ColorLut BINARY = new ColorLut("binary", fromList(new double[][] {{1, 1, 1}, {0, 0, 0}}));
    /** matplotlib "viridis" (listed). */
    public static final ColorLut VIRIDIS = new ColorLut("viridis", listed("viridis"));
    /** matplotlib "magma" (listed). */
    public static final ColorLut MAGMA = new ColorLut("magma", listed("magma"));
    /** matplotlib "turbo" (listed). */
    public static final ColorLut TURBO = new ColorLut("turbo", listed("turbo"));

    private final String name;
    /** The 256 × 3 lookup table (double, 0–1), as matplotlib's {@code cmap._lut[:256, :3]}. */
    private final double[][] lut;
    /** The same table as bytes, truncated as {@code (lut · 255).astype(uint8)}. */
    private final byte[][] lut8 = new byte[N][3];

    private ColorLut(String name, double[][] lut) {
        this.name = name;
        this.lut = lut;
        for (int i = 0; i < N; i++)
            for (int c = 0; c < 3; c++) lut8[i][c] = (byte) (int) (lut[i][c] * 255);
    }

    /** The map of that matplotlib name (case-insensitive; "grey" is "gray"). */
    public static ColorLut named(String name) {
        String n = name.strip();
        if (n.equalsIgnoreCase("grey")) return GRAY;
        for (ColorLut c : new ColorLut[] {SPECTRAL, GRAY, BINARY, VIRIDIS, MAGMA, TURBO}) if (c.name.equalsIgnoreCase(n)) return c;
        throw new IllegalArgumentException("unknown colour map '" + name + "': one of Spectral, gray, binary, viridis, magma, turbo");
    }

    /** matplotlib's name of the map. */
    public String name() { return name; }

    /**
     * {@code LinearSegmentedColormap.from_list(name, colors, N=256)._lut}: the colours at positions
     * {@code linspace(0, 1, k)}, sampled by matplotlib's {@code _create_lookup_table} (gamma 1).
     */
    static double[][] fromList(double[][] colors) {
        int k = colors.length;
        // from_list: positions np.linspace(0, 1, k) = i * (1/(k-1)), last exactly 1; then x * (N - 1)
        double[] x = linspace(k);
        for (int i = 0; i < k; i++) x[i] *= (N - 1);
        double[] xind = linspace(N);
        for (int i = 0; i < N; i++) xind[i] = (N - 1) * xind[i];   // ** gamma (1.0) is exact
        double[][] lut = new double[N][3];
        for (int c = 0; c < 3; c++) {
            lut[0][c] = colors[0][c];
            lut[N - 1][c] = colors[k - 1][c];
            for (int i = 1; i < N - 1; i++) {
                int ind = 0;   // np.searchsorted(x, xind[i]), side='left'
                while (ind < k && x[ind] < xind[i]) ind++;
                double distance = (xind[i] - x[ind - 1]) / (x[ind] - x[ind - 1]);
                double y0 = colors[ind][c], y1 = colors[ind - 1][c];
                lut[i][c] = Math.min(1.0, Math.max(0.0, distance * (y0 - y1) + y1));
            }
        }
        return lut;
    }

    /** A ListedColormap's table, read from {@code colormaps/<name>.txt} (256 rows of three values; # comments). */
    private static double[][] listed(String name) {
        double[][] lut = new double[N][];
        String file = "colormaps/" + name + ".txt";
        try (InputStream in = ColorLut.class.getResourceAsStream(file)) {
            if (in == null) throw new IllegalStateException("colour map table " + file + " is missing from the jar");
            BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.US_ASCII));
            int i = 0;
            for (String line; (line = r.readLine()) != null; ) {
                if (line.isBlank() || line.startsWith("#")) continue;
                String[] v = line.trim().split("\\s+");
                if (i >= N || v.length != 3) throw new IllegalStateException(file + ": expected 256 rows of 3 values");
                lut[i++] = new double[] {Double.parseDouble(v[0]), Double.parseDouble(v[1]), Double.parseDouble(v[2])};
            }
            if (i != N) throw new IllegalStateException(file + ": " + i + " rows, expected 256");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
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

    /** The colour of x as doubles in [0, 1] (matplotlib's {@code cmap(x)[:3]}); NaN → black. */
    public double[] color(float x) {
        int i = index(x);
        return i < 0 ? new double[3] : lut[i].clone();
    }

    /** The colour of x as 8-bit RGB, truncated as Marigold does; NaN → black. */
    public int[] color8(float x) {
        int i = index(x);
        if (i < 0) return new int[3];
        byte[] b = lut8[i];
        return new int[] {b[0] & 0xFF, b[1] & 0xFF, b[2] & 0xFF};
    }

    /**
     * Colourises values in [0, 1] ([H, W]; clipped to [0, 1] first, as colorize_depth_maps with min 0, max 1)
     * into 8-bit RGB planes [3, H, W]; NaN → black.
     */
    public byte[] colorize(float[] values) {
        int n = values.length;
        byte[] out = new byte[3 * n];
        for (int i = 0; i < n; i++) {
            float d = values[i];
            if (Float.isNaN(d)) continue;   // black, as matplotlib's bad colour after ·255
            byte[] c = lut8[index(Math.min(1f, Math.max(0f, d)))];
            out[i] = c[0];
            out[n + i] = c[1];
            out[2 * n + i] = c[2];
        }
        return out;
    }

    @Override
    public String toString() { return "ColorLut[" + name + "]"; }
}
