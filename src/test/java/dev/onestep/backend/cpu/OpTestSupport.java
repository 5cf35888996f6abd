package dev.onestep.backend.cpu;

import dev.onestep.tensor.DType;
import dev.onestep.tensor.Tensor;
import dev.onestep.testutil.RandomTensors;

import java.util.Arrays;
import java.util.Random;

/** Seeded random tensors and shape strings for the op tests. */
final class OpTestSupport {
    private OpTestSupport() {}

    static Tensor uniform(Random r, float lo, float hi, int... shape) { return RandomTensors.uniform(r, lo, hi, shape); }

    static Tensor gaussian(Random r, float std, float mean, int... shape) { return RandomTensors.gaussian(r, std, mean, shape); }

    /** The same values stored as F16 or BF16 (rounded), as an mmapped checkpoint would hold them. */
    static Tensor narrow(Tensor f32, DType dtype) { return RandomTensors.narrow(f32, dtype); }

    static String s(int... shape) { return Arrays.toString(shape); }
}
