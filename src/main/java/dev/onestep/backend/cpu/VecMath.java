package dev.onestep.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Run-to-run deterministic replacements for the Vector API operations whose results the API leaves open:
 * {@code lanewise(EXP)} (an SVML intrinsic once C2 compiles the loop, a Java fallback before: the last bits
 * differ) and {@code reduceLanes(ADD)} on floats (the summation order is unspecified). With these, the same
 * input gives the same bits before and after JIT warm-up — OneStep promises a deterministic forward pass.
 *
 * <p>exp is Cephes' expf: x = n·ln2 + r with |r| ≤ ln2/2 (ln2 split in two for exactness), a degree-6
 * polynomial for e^r (Horner's steps and the two-part reduction as fused multiply-adds: ≈ 1.27× faster on a score row
 * than separate multiplies and adds, worst relative error 8.3e-8 against StrictMath; docs/PERF.md, "Attention"), and 2ⁿ built in the exponent bits; n = round(x·log2 e) comes from adding 1.5·2²³ (the float
 * adder rounds, the integer is read off the bits), not from float→int conversions, which the JIT expands into a
 * long fix-up sequence on AVX2 (Java's saturating semantics); with the clamps as compare + blend, exp cost 0.92 instead
 * of 1.45 ns per element on a Zen 3 (AVX2, docs/PERF.md, "Attention"); ≤ 2 ulp over [−87.3, 88.4]; below that it is 0 (softmax's masked −∞ stay exact zeros), above it saturates,
 * NaN stays NaN.
 * {@link #exp(float)} is the same arithmetic on one lane, so vector bodies and scalar tails agree bit for bit.
 */
final class VecMath {
    private VecMath() {}

    private static final float HI = 88.3762626647949f, LO = -87.3365447505531f;
    private static final float LOG2E = 1.44269504088896341f, C1 = 0.693359375f, C2 = -2.12194440e-4f;
    private static final float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f,
            P3 = 4.1665795894e-2f, P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;
    /** 1.5·2²³: x + ROUND rounds x to an integer (nearest, ties to even) held in the low mantissa bits. */
    private static final float ROUND = 12582912f;
    private static final int ROUND_BITS = Float.floatToRawIntBits(ROUND);

    static FloatVector exp(FloatVector x) {
        VectorMask<Float> nan = x.test(VectorOperators.IS_NAN), under = x.compare(VectorOperators.LT, LO);
        FloatVector in = x;
        // clamp by compare + blend: the same values as max/min here, without the JIT's Java-semantics (NaN, ±0)
        // expansion of float max/min on AVX2
        x = x.blend(LO, under).blend(HI, x.compare(VectorOperators.GT, HI));
        // n = round(x·log2 e) by the float adder itself: adding 1.5·2²³ leaves n in the low mantissa bits (|n| ≤ 128)
        FloatVector shifted = x.fma(LOG2E, ROUND);
        FloatVector fx = shifted.sub(ROUND);
        VectorSpecies<Float> s = x.species();
        FloatVector r = fx.fma(FloatVector.broadcast(s, -C2), fx.fma(FloatVector.broadcast(s, -C1), x)); // x − fx·C1 − fx·C2, fused
        FloatVector z = r.mul(r);
        FloatVector y = r.fma(P0, P1).fma(r, FloatVector.broadcast(s, P2)).fma(r, FloatVector.broadcast(s, P3))
                .fma(r, FloatVector.broadcast(s, P4)).fma(r, FloatVector.broadcast(s, P5)).fma(z, r).add(1f);
        IntVector n = shifted.reinterpretAsInts().sub(ROUND_BITS);
        FloatVector pow2n = n.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return y.mul(pow2n).blend(0f, under).blend(in, nan);
    }

    static float exp(float x) {
        if (x != x) return x;
        if (x < LO) return 0f;
        x = Math.min(x, HI);
        float shifted = Math.fma(x, LOG2E, ROUND);
        float fx = shifted - ROUND;
        float r = Math.fma(fx, -C2, Math.fma(fx, -C1, x));
        float z = r * r;
        float y = Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(r, P0, P1), r, P2), r, P3), r, P4), r, P5), z, r) + 1f;
        int n = Float.floatToRawIntBits(shifted) - ROUND_BITS;
        return y * Float.intBitsToFloat((n + 127) << 23);
    }

    /** Sum of the lanes in a fixed order (lane 0 first). */
    static float sum(FloatVector v) {
        float[] a = v.toArray();
        float s = 0f;
        for (float f : a) s += f;
        return s;
    }
}
