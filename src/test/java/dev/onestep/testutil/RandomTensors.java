package dev.onestep.testutil;

import dev.onestep.tensor.DType;
import dev.onestep.tensor.Tensor;

import java.lang.foreign.ValueLayout;
import java.util.Random;

/** Seeded random host tensors for the backend op tests (CPU and CUDA), and their half-precision copies. */
public final class RandomTensors {
    private RandomTensors() {}

    /** Uniform in [lo, hi). */
    public static Tensor uniform(Random r, float lo, float hi, int... shape) {
        float[] v = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = lo + (hi - lo) * r.nextFloat();
        return Tensor.of(v, shape);
    }

    /** Normal with the given standard deviation and mean. */
    public static Tensor gaussian(Random r, float std, float mean, int... shape) {
        float[] v = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = mean + std * (float) r.nextGaussian();
        return Tensor.of(v, shape);
    }

    /** The same values stored as F16 or BF16 bits (rounded), as a half-precision checkpoint holds them. */
    public static Tensor narrow(Tensor f32, DType dtype) {
        Tensor t = Tensor.allocate(dtype, f32.shape());
        for (long i = 0; i < f32.numel(); i++) {
            float v = f32.getFloat(i);
            short bits = dtype == DType.F16 ? DType.f32ToF16(v) : DType.f32ToBf16(v);
            t.data().setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, bits);
        }
        return t;
    }
}
