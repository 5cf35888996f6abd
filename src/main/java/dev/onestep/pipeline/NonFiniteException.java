package dev.onestep.pipeline;

/**
 * A stage of a prediction produced NaN or infinite values, so its result would be garbage (an all-NaN map, a black
 * PNG). Raised at the first stage that goes non-finite, named in the message and by {@link #stage()}: non-finite
 * weights (see {@link dev.onestep.io.WeightScan}), a degenerate config, or activations overflowing a 16-bit compute
 * dtype.
 */
public final class NonFiniteException extends RuntimeException {
    private final String stage;

    public NonFiniteException(String stage, String message) {
        super(message);
        this.stage = stage;
    }

    /** The stage whose output was non-finite: "VAE encoder", "UNet", "VAE decoder" or "post-processing". */
    public String stage() { return stage; }
}
