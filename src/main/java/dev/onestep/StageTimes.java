package dev.onestep;

import dev.onestep.pipeline.Prediction;

/** Milliseconds per pipeline stage for one image (a batch's stages are shared out evenly among its images). */
public record StageTimes(double preprocessMs, double encodeMs, double unetMs, double decodeMs, double postprocessMs) {
    /** The sum of the stages. */
    public double totalMs() { return preprocessMs + encodeMs + unetMs + decodeMs + postprocessMs; }

    static StageTimes of(Prediction.StageTimes t) {
        return t == null ? new StageTimes(0, 0, 0, 0, 0) : new StageTimes(t.preprocessMs(), t.encodeMs(), t.unetMs(), t.decodeMs(), t.postprocessMs());
    }
}
