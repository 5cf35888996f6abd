package dev.onestep.backend.cpu;

import dev.onestep.tensor.DType;
import dev.onestep.tensor.Tensor;

import java.util.Arrays;
import java.util.Random;

/** Seeded random tensors and shape strings for the op tests. */
final class OpTestSupport {
    private OpTestSupport() {}

    static Tensor uniform(Random r, float lo, float hi, int... shape) {
        float[] v = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = lo + (hi - lo) * r.nextFloat();
        return Tensor.of(v, shape);
    }

    static Tensor gaussian(Random r, float std, float mean, int... shape) {
        float[] v = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = mean + std * (float) r.nextGaussian();
        return Tensor.of(v, shape);
    }

    /** The same values stored as F16 or BF16 (rounded), as an mmapped checkpoint would hold them. */
    static Tensor narrow(Tensor f32, DType dtype) {
        Tensor t = Tensor.allocate(dtype, f32.shape());
        for (long i = 0; i < f32.numel(); i++) {
            float v = f32.getFloat(i);
            short bits = dtype == DType.F16 ? DType.f32ToF16(v) : DType.f32ToBf16(v);
            t.data().setAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, i, bits);
        }
        return t;
    }

    static String s(int... shape) { return Arrays.toString(shape); }
}
