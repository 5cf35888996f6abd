package dev.onestep.io.config;

import java.util.List;

/**
 * The ranges config values must lie in, in one place for every config. A config comes from a stranger's checkpoint:
 * besides what the architecture requires (positive sizes, finite factors), every count and size is bounded so that
 * nothing computed from it overflows, and no loop or array sized by it can exhaust memory or run for minutes before
 * the weights are checked against it (a layer count of 10⁹ is refused here, not discovered by building 10⁹ layers).
 * The bounds are far above every Stable Diffusion checkpoint (SD2: 1 280 channels, 2 layers a block, 23 text layers,
 * 1 000 train timesteps).
 */
final class Ranges {
    private Ranges() {}

    /** Channels of any layer (SD2: at most 1 280; the CLIP-H text encoder: 1 024 hidden, 4 096 intermediate). */
    static final int MAX_CHANNELS = 1 << 16;
    /** Repeated layers of one kind in one block, or encoder layers (SD2: 2 a UNet block, 23 CLIP layers). */
    static final int MAX_LAYERS = 256;
    /** Down (and up) blocks of a UNet or VAE (SD2: 4). */
    static final int MAX_BLOCKS = 16;
    /** A factor that scales activations (scaling_factor, mid_block_scale_factor): float-representable either way. */
    static final double MAX_FACTOR = 1e6, MIN_FACTOR = 1e-6;

    /** Adds a problem unless {@code min ≤ v ≤ max}. */
    static void intIn(List<String> p, String key, long v, long min, long max) {
        if (v < min || v > max) p.add(key + " = " + v + " should be in [" + min + ", " + max + "]");
    }

    /** Adds a problem unless {@code 1 ≤ v ≤ max}. */
    static void positive(List<String> p, String key, long v, long max) {
        if (v <= 0) p.add(key + " = " + v + " should be > 0");
        else if (v > max) p.add(key + " = " + v + " is larger than " + max + ", the most OneStep accepts");
    }

    /** Adds a problem unless {@code min ≤ v ≤ max} (so NaN and infinities are refused). */
    static void finiteIn(List<String> p, String key, double v, double min, double max) {
        if (!(v >= min && v <= max)) p.add(key + " = " + v + " should be a number in [" + min + ", " + max + "]");
    }

    /** A factor in [{@link #MIN_FACTOR}, {@link #MAX_FACTOR}]: positive, finite, and its reciprocal a normal float too. */
    static void factor(List<String> p, String key, double v) {
        finiteIn(p, key, v, MIN_FACTOR, MAX_FACTOR);
    }

    /** Adds a problem unless a per-block list has one entry per block. */
    static void perBlock(List<String> p, String key, int len, int blocks) {
        if (len != blocks) p.add(key + " has " + len + " entries but block_out_channels has " + blocks);
    }
}
