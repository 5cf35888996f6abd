package dev.onestep.pipeline;

import dev.onestep.image.Resize;

/**
 * From the VAE decoder's output of one image, [3, h, w] float planes, to the final depth or normal map at
 * the input size: SPEC steps 11 and 12, in float32 in the reference's order of operations
 * (diffusion-e2e-ft {@code MarigoldPipeline.__call__} and {@code single_infer}).
 */
public final class PostProcess {
    private PostProcess() {}

    /** Added to the L2 norm before dividing, as the reference. */
    public static final float NORMAL_EPS = 1e-5f;

    // ---- depth ----

    /**
     * Channel mean as {@code torch.mean(dim=1)}: the three planes summed in order in float, then divided by 3.
     * Result [h, w].
     */
    public static float[] depthMean(float[] decoded, int h, int w) {
        int n = checkPlanes(decoded, h, w);
        float[] d = new float[n];
        for (int i = 0; i < n; i++) d[i] = (decoded[i] + decoded[n + i] + decoded[2 * n + i]) / 3f;
        return d;
    }

    /** clip(d, −1, 1), then (d + 1) / 2, in place; returns d. The reference's {@code single_infer} output. */
    public static float[] depthToUnit(float[] d) {
        for (int i = 0; i < d.length; i++) d[i] = (Math.min(1f, Math.max(-1f, d[i])) + 1f) / 2f;
        return d;
    }

    /** Min–max over the whole map, (p − min) / (max − min), in place; all zeros when max == min. Returns d. */
    public static float[] minMax(float[] d) {
        float min = Float.POSITIVE_INFINITY, max = Float.NEGATIVE_INFINITY;
        for (float v : d) {
            min = Math.min(min, v);
            max = Math.max(max, v);
        }
        if (max == min) {
            java.util.Arrays.fill(d, 0f);
            return d;
        }
        float range = max - min;
        for (int i = 0; i < d.length; i++) d[i] = (d[i] - min) / range;
        return d;
    }

    /** Decoder output [3, h, w] → relative depth [h, w] in [0, 1] at the decoded size (mean, clip, affine, min–max). */
    public static float[] depth(float[] decoded, int h, int w) {
        return minMax(depthToUnit(depthMean(decoded, h, w)));
    }

    /**
     * Depth at the decoded size [h, w] → the input size [outH, outW]: torchvision resize (antialias) with the
     * given mode, then clip to [0, 1]. Returns a new array.
     */
    public static float[] depthToInputSize(float[] depth, int h, int w, int outH, int outW, Resize.Mode mode) {
        float[] r = Resize.resizeFloat(depth, 1, h, w, outH, outW, mode);
        for (int i = 0; i < r.length; i++) r[i] = Math.min(1f, Math.max(0f, r[i]));
        return r;
    }

    /** The whole depth post-process: decoder output [3, h, w] → depth [outH, outW] in [0, 1]. */
    public static float[] depth(float[] decoded, int h, int w, int outH, int outW, Resize.Mode mode) {
        return depthToInputSize(depth(decoded, h, w), h, w, outH, outW, mode);
    }

    /**
     * Where a map ends: at the input size (the default) or at the processing size, the decoder's output
     * ({@code matchInput} false: diffusers' {@code match_input_resolution=False}, run.py's {@code --output_processing_res});
     * and whether normals resized back are re-normalised to unit length as diffusers does ({@link #renormalizeDiffusers}).
     */
    public record Output(boolean matchInput, boolean renormalizeNormals) {
        /** E2E-FT's: at the input size, normals not renormalised. */
        public static final Output INPUT_SIZE = new Output(true, false);
    }

    /** diffusers' {@code normalize_normals}: n / max(‖n‖₂, 1e-6) per pixel, in place on [3, h, w]; returns n. */
    public static float[] renormalizeDiffusers(float[] n, int h, int w) {
        int px = checkPlanes(n, h, w);
        for (int i = 0; i < px; i++) {
            float x = n[i], y = n[px + i], z = n[2 * px + i];
            float norm = Math.max((float) Math.sqrt(x * x + y * y + z * z), 1e-6f);
            n[i] = x / norm;
            n[px + i] = y / norm;
            n[2 * px + i] = z / norm;
        }
        return n;
    }

    // ---- normals ----

    /**
     * n / (‖n‖₂ over the 3 channels + 1e-5) per pixel, in place on [3, h, w] planes; returns n. The norm is
     * sqrt(x² + y² + z²) accumulated in float in channel order.
     */
    public static float[] normalize(float[] n, int h, int w) {
        int px = checkPlanes(n, h, w);
        for (int i = 0; i < px; i++) {
            float x = n[i], y = n[px + i], z = n[2 * px + i];
            float denom = (float) Math.sqrt(x * x + y * y + z * z) + NORMAL_EPS;
            n[i] = x / denom;
            n[px + i] = y / denom;
            n[2 * px + i] = z / denom;
        }
        return n;
    }

    /**
     * Decoder output [3, h, w] → unit normals [3, h, w] at the decoded size: normalised twice, as the reference
     * (once in {@code single_infer}, again after the squeeze). Returns a new array.
     */
    public static float[] normals(float[] decoded, int h, int w) {
        return normalize(normalize(decoded.clone(), h, w), h, w);
    }

    /** Normals [3, h, w] → [3, outH, outW]: resize (antialias, not renormalised), clip to [−1, 1]. New array. */
    public static float[] normalsToInputSize(float[] normals, int h, int w, int outH, int outW, Resize.Mode mode) {
        float[] r = Resize.resizeFloat(normals, 3, h, w, outH, outW, mode);
        for (int i = 0; i < r.length; i++) r[i] = Math.min(1f, Math.max(-1f, r[i]));
        return r;
    }

    /** The whole normal post-process: decoder output [3, h, w] → normals [3, outH, outW] in [−1, 1]. */
    public static float[] normals(float[] decoded, int h, int w, int outH, int outW, Resize.Mode mode) {
        return normalsToInputSize(normals(decoded, h, w), h, w, outH, outW, mode);
    }

    private static int checkPlanes(float[] a, int h, int w) {
        if (h <= 0 || w <= 0 || a.length != 3L * h * w)
            throw new IllegalArgumentException(a.length + " values for a [3, " + h + ", " + w + "] decoder output");
        return h * w;
    }
}
