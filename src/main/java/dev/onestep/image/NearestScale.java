package dev.onestep.image;

/**
 * Downscaling by a factor with PyTorch's legacy "nearest" ({@code torch.nn.Upsample(scale_factor=f,
 * mode="nearest")}): output size floor(n·f), source index min(floor(dst · (float) (1/f)), n − 1). Marigold uses it
 * to cap the resolution at which ensembles and least-squares alignments are solved ({@code max_res}).
 */
public final class NearestScale {
    private NearestScale() {}

    /** The factor min(maxRes / h, maxRes / w), or 1 when maxRes ≤ 0 or the map already fits. */
    public static double factor(int h, int w, int maxRes) {
        if (maxRes <= 0) return 1;
        double f = Math.min((double) maxRes / h, (double) maxRes / w);
        return Math.min(f, 1);
    }

    /** The output size {outH, outW} of a downscale by {@code f}. */
    public static int[] size(int h, int w, double f) {
        return new int[] {Math.max(1, (int) Math.floor(h * f)), Math.max(1, (int) Math.floor(w * f))};
    }

    /** One plane [h, w] → [outH, outW] by nearest with scale f (returns the input when f ≥ 1). */
    public static float[] plane(float[] src, int h, int w, double f) {
        if (f >= 1) return src;
        int[] s = size(h, w, f);
        int oh = s[0], ow = s[1];
        float inv = (float) (1 / f);
        float[] out = new float[oh * ow];
        for (int y = 0; y < oh; y++) {
            int sy = Math.min((int) Math.floor(y * inv), h - 1);
            for (int x = 0; x < ow; x++) out[y * ow + x] = src[sy * w + Math.min((int) Math.floor(x * inv), w - 1)];
        }
        return out;
    }

    /** A boolean mask [h, w] → [outH, outW], as {@link #plane}. */
    public static boolean[] mask(boolean[] src, int h, int w, double f) {
        if (f >= 1) return src;
        int[] s = size(h, w, f);
        int oh = s[0], ow = s[1];
        float inv = (float) (1 / f);
        boolean[] out = new boolean[oh * ow];
        for (int y = 0; y < oh; y++) {
            int sy = Math.min((int) Math.floor(y * inv), h - 1);
            for (int x = 0; x < ow; x++) out[y * ow + x] = src[sy * w + Math.min((int) Math.floor(x * inv), w - 1)];
        }
        return out;
    }
}
