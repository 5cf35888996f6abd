package dev.onestep.tensor;

/** Layout conversions at the engine's boundary: the engine is channels-last, fixtures and .npy dumps NCHW. */
public final class Layouts {
    private Layouts() {}

    /** [N, C, H, W] → [N, H, W, C]. */
    public static float[] nchwToNhwc(float[] src, int n, int c, int h, int w) {
        float[] dst = new float[src.length];
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < c; ch++)
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                        dst[((b * h + y) * w + x) * c + ch] = src[((b * c + ch) * h + y) * w + x];
        return dst;
    }

    /** [N, H, W, C] → [N, C, H, W]. */
    public static float[] nhwcToNchw(float[] src, int n, int h, int w, int c) {
        float[] dst = new float[src.length];
        for (int b = 0; b < n; b++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    for (int ch = 0; ch < c; ch++)
                        dst[((b * c + ch) * h + y) * w + x] = src[((b * h + y) * w + x) * c + ch];
        return dst;
    }

    /** An NHWC host tensor as an NCHW host tensor (a copy); other ranks are returned as an F32 copy. */
    public static Tensor toNchw(Tensor nhwc) {
        if (nhwc.rank() != 4) return nhwc.toF32();
        int n = nhwc.dim(0), h = nhwc.dim(1), w = nhwc.dim(2), c = nhwc.dim(3);
        return Tensor.of(nhwcToNchw(nhwc.toFloatArray(), n, h, w, c), n, c, h, w);
    }

    /** An NCHW host tensor as an NHWC host F32 tensor (a copy). */
    public static Tensor toNhwc(Tensor nchw) {
        if (nchw.rank() != 4) throw new IllegalArgumentException("expected [N, C, H, W], got " + nchw);
        int n = nchw.dim(0), c = nchw.dim(1), h = nchw.dim(2), w = nchw.dim(3);
        return Tensor.of(nchwToNhwc(nchw.toFloatArray(), n, c, h, w), n, h, w, c);
    }
}
