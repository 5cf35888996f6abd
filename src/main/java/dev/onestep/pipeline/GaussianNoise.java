package dev.onestep.pipeline;

import java.util.SplittableRandom;

/**
 * The initial noise latents of the multi-step pipeline, reproducible across runs, JVMs and machines.
 *
 * <p>RNG: {@link java.util.SplittableRandom} seeded with the user's seed (its algorithm, SplitMix64, is fixed by
 * the Java specification); member k of an ensemble draws from the k-th {@code split()} of that root generator,
 * so member k's noise does not depend on how many members are drawn. Normal deviates come from the Box–Muller
 * transform on pairs of doubles u1 ∈ (0, 1], u2 ∈ [0, 1): z0 = √(−2 ln u1)·cos 2πu2, z1 = √(−2 ln u1)·sin 2πu2,
 * evaluated with {@link StrictMath} (fdlibm, bit-identical on every platform) and rounded to float. Values are
 * filled in NCHW order ([C, h, w] per member). This cannot match {@code torch.randn}; pass the reference's noise
 * as an .npy file (--noise) when a bit-for-bit comparison with PyTorch is wanted.
 */
public final class GaussianNoise {
    private GaussianNoise() {}

    /**
     * Standard-normal noise for {@code members} latents of [channels, h, w], channels-first.
     *
     * @return [members][channels·h·w]
     */
    public static float[][] members(long seed, int members, int channels, int h, int w) {
        if (members < 1) throw new IllegalArgumentException("members must be ≥ 1, got " + members);
        SplittableRandom root = new SplittableRandom(seed);
        float[][] out = new float[members][];
        for (int k = 0; k < members; k++) out[k] = standardNormal(root.split(), channels * h * w);
        return out;
    }

    /** n standard-normal floats from {@code rng} by Box–Muller (pairs; an odd tail uses only z0 of its pair). */
    public static float[] standardNormal(SplittableRandom rng, int n) {
        float[] z = new float[n];
        for (int i = 0; i < n; i += 2) {
            double u1 = 1.0 - rng.nextDouble();            // (0, 1]: log is finite
            double u2 = rng.nextDouble();
            double r = StrictMath.sqrt(-2.0 * StrictMath.log(u1));
            double a = 2.0 * StrictMath.PI * u2;
            z[i] = (float) (r * StrictMath.cos(a));
            if (i + 1 < n) z[i + 1] = (float) (r * StrictMath.sin(a));
        }
        return z;
    }
}
