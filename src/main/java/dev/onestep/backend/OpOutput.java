package dev.onestep.backend;

import dev.onestep.tensor.Tensor;

/**
 * The one pattern every op uses between allocating its output and returning it: if computing the output fails (a
 * kernel error, a failed check, {@link java.util.concurrent.CancellationException} from an interrupted thread, out of
 * memory for a scratch buffer), the output is closed before the failure propagates, so no op leaks the buffer it
 * allocated. Ops return a new tensor owned by the caller; until they return, they own it.
 */
public final class OpOutput {
    private OpOutput() {}

    /** Runs {@code compute} (which fills {@code y}); on any failure closes {@code y} and rethrows. */
    public static void fill(Tensor y, Runnable compute) {
        try {
            compute.run();
        } catch (Throwable t) {
            y.close();
            throw t;
        }
    }
}
