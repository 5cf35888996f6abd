package dev.onestep.backend.cuda;

import dev.onestep.tensor.DType;
import dev.onestep.tensor.Tensor;
import dev.onestep.testutil.MeasuredErrors;
import dev.onestep.testutil.RandomTensors;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Seeded inputs, dtype rounding and the normalised-error check for the CUDA parity tests. */
final class CudaTestSupport {
    private CudaTestSupport() {}

    /**
     * Skips the calling test, with the reason, on machines without a usable GPU and driver. In the cuda-emulated
     * surefire run (tools/cudaemu) the "GPU" is the CPU emulator; where it could not be built, its note is the reason.
     */
    static void assumeGpu() {
        assumeTrue(CudaBackend.isAvailable(), () -> "no CUDA driver/GPU: " + CudaBackend.unavailableReason() + emulatorNote());
    }

    private static String emulatorNote() {
        String dir = System.getProperty("onestep.cuda.emulator");
        if (dir == null) return "";
        java.nio.file.Path skipped = java.nio.file.Path.of(dir, "SKIPPED");
        try {
            return java.nio.file.Files.exists(skipped) ? " (" + java.nio.file.Files.readString(skipped).strip() + ")" : " (emulator in " + dir + ")";
        } catch (java.io.IOException e) {
            return " (emulator: " + e.getMessage() + ")";
        }
    }

    static Tensor uniform(Random r, float lo, float hi, int... shape) { return RandomTensors.uniform(r, lo, hi, shape); }

    static Tensor gaussian(Random r, float std, float mean, int... shape) { return RandomTensors.gaussian(r, std, mean, shape); }

    static float round(float v, DType dt) {
        return switch (dt) {
            case F16 -> DType.f16ToF32(DType.f32ToF16(v));
            case BF16 -> DType.bf16ToF32(DType.f32ToBf16(v));
            default -> v;
        };
    }

    /** F32 values exactly representable in {@code dt}: what both the reference and the GPU then see. */
    static Tensor representable(Tensor f32, DType dt) {
        float[] v = f32.toFloatArray();
        for (int i = 0; i < v.length; i++) v[i] = round(v[i], dt);
        return Tensor.of(v, f32.shape());
    }

    static float[] rounded(float[] v, DType dt) {
        float[] o = v.clone();
        for (int i = 0; i < o.length; i++) o[i] = round(o[i], dt);
        return o;
    }

    /** The same values stored as F16 or BF16 bits, as a half-precision checkpoint holds them. */
    static Tensor narrow(Tensor f32, DType dt) { return RandomTensors.narrow(f32, dt); }

    /**
     * ggml's test-backend-ops criterion: NMSE = Σ(got − want)² / Σ want² ≤ bound; non-finite outputs fail. The
     * message names the case, the NMSE and the worst element.
     */
    static void assertNmse(String what, float[] want, float[] got, double bound) {
        if (want.length != got.length) fail(what + ": length " + got.length + ", expected " + want.length);
        double err = 0, ref = 0, worst = -1;
        int worstAt = 0;
        for (int i = 0; i < want.length; i++) {
            if (!Float.isFinite(got[i])) {
                MeasuredErrors.record(what, Double.NaN, Double.NaN, "nmse", bound, false);
                fail(what + ": non-finite output " + got[i] + " at [" + i + "] (expected " + want[i] + ")");
            }
            double d = (double) got[i] - want[i];
            err += d * d;
            ref += (double) want[i] * want[i];
            if (Math.abs(d) > worst) {
                worst = Math.abs(d);
                worstAt = i;
            }
        }
        double nmse = ref == 0 ? err : err / ref;
        MeasuredErrors.record(what, worst, nmse, "nmse", bound, nmse <= bound);
        if (!(nmse <= bound))
            fail(String.format("%s: NMSE %.3e > %.1e; worst |diff| %.3e at [%d] (expected %.7g, got %.7g)", what, nmse, bound, worst, worstAt,
                    want[worstAt], got[worstAt]));
    }

    static String s(int... shape) { return Arrays.toString(shape); }
}
