package dev.onestep.image;

/**
 * Resizing exactly as the reference does it: torchvision 0.14 {@code resize(..., antialias=True)} on top of
 * PyTorch 1.13's CPU kernels ({@code aten/src/ATen/native/cpu/UpSampleKernel.cpp}).
 *
 * <p>Bilinear and bicubic use PyTorch's separable antialiased kernel ({@code _upsample_bilinear2d_aa},
 * {@code _upsample_bicubic2d_aa}, the same scheme as Pillow): first the width (horizontal pass, a temporary
 * [C, inH, outW] float buffer), then the height; a dimension whose size does not change is skipped, and
 * equal sizes copy. Per output index i, in float32 as {@code HelperInterpBase::_compute_weights_aa}:
 * scale = inSize/outSize, support = (interp/2)·max(scale, 1), center = scale·(i + 0.5),
 * window [(long)(center − support + 0.5), (long)(center + support + 0.5)) clipped to the input, weights
 * filter((j + xmin − center + 0.5)·(1/max(scale,1))) normalised to sum 1. The filter is the triangle
 * (bilinear) or Keys cubic with a = −0.5 (bicubic). Each output is {@code t0·w0 + t1·w1 + …} accumulated
 * in float in index order, with every step after the first a fused multiply-add: PyTorch writes
 * {@code output += t * wts}, and its AVX2 build of this file (the one a modern x86 CPU dispatches to, compiled with
 * -mavx2 -mfma and GCC's default -ffp-contract=fast) turns that into an FMA. With plain multiply-then-add,
 * 2 of 9216 uint8 values of the 80×60 fixture and about a quarter of the float depth values (1 ulp) differ;
 * with FMA both fixtures match bit for bit. A reference run on a CPU without AVX2 would differ by those ulps.
 *
 * <p>The uint8 path is torchvision's: widen to float, resize, clamp to [0, 255] for bicubic, then
 * {@code torch.round} (half to even) and cast. Nearest is PyTorch's legacy "nearest"
 * (src = min(floor(dst · (float) in/out), in − 1)), never antialiased; note that torchvision 0.14 itself
 * refuses antialias=True with nearest, so the reference cannot run that mode at all.
 */
public final class Resize {
    private Resize() {}

    /** The resampling filter (the reference's {@code --resample_method}). */
    public enum Mode {
        BILINEAR, BICUBIC, NEAREST;

        /** Parses "bilinear", "bicubic" or "nearest" (any case). */
        public static Mode parse(String s) {
            return switch (s.trim().toLowerCase(java.util.Locale.ROOT)) {
                case "bilinear" -> BILINEAR;
                case "bicubic" -> BICUBIC;
                case "nearest", "nearest_exact", "nearest-exact" -> NEAREST;
                default -> throw new IllegalArgumentException("unknown resample mode '" + s + "' (bilinear, bicubic or nearest)");
            };
        }
    }

    /**
     * The processing size for an input of w × h and processing resolution r (Marigold's {@code resize_max_res}):
     * f = min(r/w, r/h) in double, new size (int)(w·f) × (int)(h·f), truncated. r = 0 keeps the native size.
     *
     * @return {newW, newH}
     */
    public static int[] resizeMaxRes(int w, int h, int r) {
        if (w <= 0 || h <= 0) throw new IllegalArgumentException("image size " + w + "x" + h + " is empty");
        if (r < 0) throw new IllegalArgumentException("processing resolution " + r + " is negative");
        if (r == 0) return new int[] {w, h};
        double f = Math.min((double) r / w, (double) r / h);
        int nw = (int) (w * f), nh = (int) (h * f);
        if (nw < 1 || nh < 1)
            throw new IllegalArgumentException("image " + w + "x" + h + " at processing resolution " + r + " shrinks to " + nw + "x" + nh);
        return new int[] {nw, nh};
    }

    /** Resizes an RGB image to outW × outH as torchvision does on a uint8 tensor. */
    public static RgbImage resizeUint8(RgbImage img, int outH, int outW, Mode mode) {
        byte[] out = resizeUint8(img.planes(), 3, img.height(), img.width(), outH, outW, mode);
        return new RgbImage(out, outW, outH, img.name());
    }

    /**
     * Resizes uint8 planes [channels, inH, inW] to [channels, outH, outW] as torchvision 0.14
     * {@code resize(uint8 tensor, antialias=True)}: float resize, clamp (bicubic), round half to even, cast.
     */
    public static byte[] resizeUint8(byte[] planes, int channels, int inH, int inW, int outH, int outW, Mode mode) {
        check(planes.length, channels, inH, inW, outH, outW);
        float[] f = new float[planes.length];
        for (int i = 0; i < f.length; i++) f[i] = planes[i] & 0xFF;
        float[] r = resizeFloat(f, channels, inH, inW, outH, outW, mode);
        byte[] out = new byte[r.length];
        for (int i = 0; i < r.length; i++) {
            // torch.round is half-to-even like Math.rint; the clamp only matters for bicubic overshoot.
            double v = Math.rint(Math.min(255f, Math.max(0f, r[i])));
            out[i] = (byte) (int) v;
        }
        return out;
    }

    /**
     * Resizes float planes [channels, inH, inW] to [channels, outH, outW] as torchvision 0.14
     * {@code resize(float tensor, antialias=True)} (bilinear/bicubic antialiased, nearest plain).
     * The result is a new array (also when the size is unchanged).
     */
    public static float[] resizeFloat(float[] planes, int channels, int inH, int inW, int outH, int outW, Mode mode) {
        check(planes.length, channels, inH, inW, outH, outW);
        if (inH == outH && inW == outW) return planes.clone();
        return switch (mode) {
            case NEAREST -> nearest(planes, channels, inH, inW, outH, outW);
            case BILINEAR -> separable(planes, channels, inH, inW, outH, outW, false);
            case BICUBIC -> separable(planes, channels, inH, inW, outH, outW, true);
        };
    }

    private static void check(int len, int channels, int inH, int inW, int outH, int outW) {
        if (channels <= 0 || inH <= 0 || inW <= 0 || outH <= 0 || outW <= 0)
            throw new IllegalArgumentException("bad resize " + channels + "x" + inH + "x" + inW + " -> " + outH + "x" + outW);
        if (len != (long) channels * inH * inW)
            throw new IllegalArgumentException(len + " values for " + channels + "x" + inH + "x" + inW);
    }

    // ---- antialiased separable kernel ----

    /** Windows and weights for one dimension: output i reads xsize[i] inputs from xmin[i] with w[i·stride + j]. */
    record Weights(int[] xmin, int[] xsize, float[] w, int stride) {}

    static Weights aaWeights(int inSize, int outSize, boolean cubic) {
        int interpSize = cubic ? 4 : 2;
        // area_pixel_compute_scale<float>: (float) input_size / output_size
        float scale = (float) inSize / (float) outSize;
        float support = scale >= 1.0 ? (float) ((interpSize * 0.5) * scale) : (float) (interpSize * 0.5);
        int maxInterp = (int) Math.ceil(support) * 2 + 1;
        int[] xmin = new int[outSize], xsize = new int[outSize];
        float[] w = new float[outSize * maxInterp];
        float invscale = scale >= 1.0 ? (float) (1.0 / scale) : 1.0f;
        for (int i = 0; i < outSize; i++) {
            // C++: scalar_t center = scale * (i + 0.5);  (float promoted to double, rounded back to float)
            float center = (float) (scale * (i + 0.5));
            long lo = Math.max((long) ((double) (center - support) + 0.5), 0L);
            long hi = Math.min((long) ((double) (center + support) + 0.5), (long) inSize);
            int size = (int) Math.max(0, Math.min(hi - lo, maxInterp));
            float total = 0f;
            int base = i * maxInterp;
            for (int j = 0; j < size; j++) {
                // C++: filter_fn((j + xmin - center + 0.5) * invscale): int64 - float in float, then double.
                float arg = (float) (((double) ((float) (j + lo) - center) + 0.5) * invscale);
                float v = cubic ? cubicFilter(arg) : linearFilter(arg);
                w[base + j] = v;
                total += v;
            }
            if (total != 0f) for (int j = 0; j < size; j++) w[base + j] /= total;
            xmin[i] = (int) lo;
            xsize[i] = size;
        }
        return new Weights(xmin, xsize, w, maxInterp);
    }

    static float linearFilter(float x) {
        x = Math.abs(x);
        return x < 1.0f ? 1.0f - x : 0.0f;
    }

    /**
     * Keys cubic convolution with a = −0.5 (PyTorch's antialiased bicubic, as Pillow), in float. PyTorch's
     * {@code ((A + 2) * x - (A + 3)) * x * x + 1} and {@code ((A * x - 5 * A) * x + 8 * A) * x - 4 * A} are
     * contracted to FMAs here the way GCC contracts them in the AVX2 build (as the accumulation is, which the
     * fixtures confirm); no bicubic golden exists, so this part is unverified at the ulp level.
     */
    static float cubicFilter(float x) {
        final float a = -0.5f;
        x = Math.abs(x);
        if (x < 1.0f) return Math.fma((Math.fma(a + 2f, x, -(a + 3f))) * x, x, 1f);
        if (x < 2.0f) return Math.fma(Math.fma(Math.fma(a, x, -5f * a), x, 8f * a), x, -4f * a);
        return 0f;
    }

    private static float[] separable(float[] in, int channels, int inH, int inW, int outH, int outW, boolean cubic) {
        float[] cur = in;
        int curW = inW;
        if (outW != inW) {
            // horizontal pass: [C, inH, inW] -> [C, inH, outW]
            Weights wx = aaWeights(inW, outW, cubic);
            float[] tmp = new float[channels * inH * outW];
            for (int row = 0; row < channels * inH; row++) {
                int src = row * inW, dst = row * outW;
                for (int x = 0; x < outW; x++) {
                    int n = wx.xsize[x], off = src + wx.xmin[x], wb = x * wx.stride;
                    if (n == 0) { tmp[dst + x] = 0f; continue; }
                    float acc = cur[off] * wx.w[wb];
                    for (int j = 1; j < n; j++) acc = Math.fma(cur[off + j], wx.w[wb + j], acc);
                    tmp[dst + x] = acc;
                }
            }
            cur = tmp;
            curW = outW;
        }
        if (outH != inH) {
            // vertical pass: [C, inH, W] -> [C, outH, W]
            Weights wy = aaWeights(inH, outH, cubic);
            float[] tmp = new float[channels * outH * curW];
            for (int c = 0; c < channels; c++) {
                int srcPlane = c * inH * curW, dstPlane = c * outH * curW;
                for (int y = 0; y < outH; y++) {
                    int n = wy.xsize[y], wb = y * wy.stride;
                    int src0 = srcPlane + wy.xmin[y] * curW, dst = dstPlane + y * curW;
                    for (int x = 0; x < curW; x++) {
                        if (n == 0) { tmp[dst + x] = 0f; continue; }
                        float acc = cur[src0 + x] * wy.w[wb];
                        for (int j = 1; j < n; j++) acc = Math.fma(cur[src0 + j * curW + x], wy.w[wb + j], acc);
                        tmp[dst + x] = acc;
                    }
                }
            }
            cur = tmp;
        }
        return cur;
    }

    // ---- nearest ----

    /** PyTorch's legacy nearest index: min(floor(i · (float) in/out), in − 1). */
    static int nearestIndex(int i, int inSize, int outSize) {
        float scale = (float) inSize / (float) outSize;
        int idx = (int) Math.floor(scale * (float) i);
        return Math.min(idx, inSize - 1);
    }

    private static float[] nearest(float[] in, int channels, int inH, int inW, int outH, int outW) {
        int[] ix = new int[outW], iy = new int[outH];
        for (int x = 0; x < outW; x++) ix[x] = nearestIndex(x, inW, outW);
        for (int y = 0; y < outH; y++) iy[y] = nearestIndex(y, inH, outH);
        float[] out = new float[channels * outH * outW];
        for (int c = 0; c < channels; c++)
            for (int y = 0; y < outH; y++) {
                int src = (c * inH + iy[y]) * inW, dst = (c * outH + y) * outW;
                for (int x = 0; x < outW; x++) out[dst + x] = in[src + ix[x]];
            }
        return out;
    }
}
