package dev.onestep.pipeline;

import dev.onestep.Task;

/**
 * One image's result at the input size: depth [H·W] in [0, 1] (affine-invariant, larger = farther) or
 * normals [3·H·W] (channels-first planes) in [−1, 1]; plus the per-stage timings in milliseconds.
 */
public record Prediction(Task task, float[] data, int width, int height, StageTimes times) {

    /** Milliseconds spent in each stage of one image. */
    public record StageTimes(double preprocessMs, double encodeMs, double unetMs, double decodeMs, double postprocessMs) {
        public double totalMs() { return preprocessMs + encodeMs + unetMs + decodeMs + postprocessMs; }
    }
}
