package dev.onestep.pipeline;

import dev.onestep.backend.Backend;
import dev.onestep.tensor.DType;
import dev.onestep.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The check after each stage that its output is finite ({@link NonFiniteException} otherwise). Cheap by design: the
 * checked tensors are the 4-channel latents (1/8 of the image in each direction) and the decoded planes, which are
 * on the host already; a device latent is downloaded (a few hundred kB at 768²).
 */
final class StageCheck {
    private StageCheck() {}

    /** Throws when {@code t} (on {@code backend}) holds a NaN or Inf; {@code what} names the tensor. */
    static void finite(Backend backend, String stage, String what, Tensor t) {
        if (t.isHost() && t.dtype() == DType.F32) {
            check(stage, what, t.data(), t.numel());
            return;
        }
        try (Tensor host = backend.download(t)) {
            check(stage, what, host.data(), host.numel());
        }
    }

    /** Throws when {@code values} hold a NaN or Inf. */
    static void finite(String stage, String what, float[] values) {
        check(stage, what, MemorySegment.ofArray(values), values.length);
    }

    private static void check(String stage, String what, MemorySegment f32, long n) {
        long bad = 0;
        for (long i = 0; i < n; i++) if (!Float.isFinite(f32.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i))) bad++;
        if (bad == 0) return;
        String count = bad == n ? "only non-finite values (NaN/Inf)" : bad + " non-finite values (NaN/Inf) of " + n;
        throw new NonFiniteException(stage, "the " + stage + " produced " + count + " in " + what + ", so the result would be garbage; the checkpoint's"
                + " weights or config are broken (`onestep info --model DIR` scans the weights), or a 16-bit --dtype overflowed (try fp32)");
    }
}
