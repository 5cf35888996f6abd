package dev.onestep.backend.cpu;

import dev.onestep.tensor.DType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Vectorised widening of F16 / BF16 bits to fp32, exact (the Vector API has no half-precision conversion, so it is
 * done with integer lanes: sign-extend shorts to ints, then bit arithmetic). Scalar twins: {@link Float#float16ToFloat},
 * {@link DType#bf16ToF32}.
 *
 * <p>F16: with e = bits & 0x7FFF, the float with bits e << 13 is the half's magnitude scaled by 2^−112 (for normal and
 * subnormal halves alike, exactly), so one multiply by 2^112 finishes it; e ≥ 0x7C00 (inf/NaN) maps to exponent 0xFF
 * instead (NaNs quieted, as {@link Float#float16ToFloat} does). The sign goes back with an OR.
 */
final class Half {
    private Half() {}

    static final VectorSpecies<Float> S = CpuBackend.SPECIES;
    static final VectorSpecies<Integer> SI = VectorSpecies.of(int.class, VectorShape.forBitSize(S.vectorBitSize()));
    static final VectorSpecies<Short> SS = VectorSpecies.of(short.class, VectorShape.forBitSize(Math.max(64, S.vectorBitSize() / 2)));
    private static final int VL = S.length();
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    private static final ValueLayout.OfShort H = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final float TWO_112 = 0x1p112f;
    private static final boolean USABLE = SS.length() == VL; // 128-bit floats would need 64-bit shorts: fine; else scalar

    /** dst[0 .. n) = F16 bits at src[byteOff ..] widened. */
    static void f16ToF32(MemorySegment src, long byteOff, float[] dst, int n) {
        int i = 0;
        if (USABLE) {
            for (; i <= n - VL; i += VL) {
                IntVector h = (IntVector) ShortVector.fromMemorySegment(SS, src, byteOff + 2L * i, NATIVE)
                        .convertShape(VectorOperators.S2I, SI, 0);
                IntVector mag = h.and(0x7FFF);
                IntVector sign = h.and(0x8000).lanewise(VectorOperators.LSHL, 16);
                FloatVector f = mag.lanewise(VectorOperators.LSHL, 13).reinterpretAsFloats().mul(TWO_112);
                IntVector bits = f.reinterpretAsInts();
                VectorMask<Integer> special = mag.compare(VectorOperators.GE, 0x7C00);
                if (special.anyTrue()) { // inf, or NaN (quieted, as float16ToFloat does)
                    IntVector nanQuiet = mag.compare(VectorOperators.GT, 0x7C00).toVector().reinterpretAsInts().and(0x00400000);
                    bits = bits.blend(mag.and(0x3FF).lanewise(VectorOperators.LSHL, 13).or(0x7F800000).or(nanQuiet), special);
                }
                bits.or(sign).reinterpretAsFloats().intoArray(dst, i);
            }
        }
        for (; i < n; i++) dst[i] = Float.float16ToFloat(src.get(H, byteOff + 2L * i));
    }

    /**
     * Widens {@code rows} packed rows of 2·VL halves stored pair-interleaved: the int at lane j of a row holds element j
     * in its low 16 bits and element VL + j in its high 16 bits (so no cross-lane conversion is needed). dst gets the
     * rows in natural order, 2·VL floats each. Requires 32-bit lanes to fill a vector ({@link #PAIRS}).
     */
    static void widenPairs(MemorySegment src, long byteOff, float[] dst, int rows, boolean bf16) {
        for (int r = 0; r < rows; r++) {
            IntVector v = IntVector.fromMemorySegment(SI, src, byteOff + 4L * VL * r, NATIVE);
            int o = 2 * VL * r;
            if (bf16) {
                v.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, o);
                v.and(0xFFFF0000).reinterpretAsFloats().intoArray(dst, o + VL);
            } else {
                // written out here, not in a helper taking and returning vectors: when C2 compiled such a helper on its own
                // first (the Winograd weight transform's long widening loops made it hot early), it was not
                // inlined later and every vector it returned was boxed: ≈ 100 GB of garbage per 768² pass
                for (int half = 0; half < 2; half++) { // low 16 bits: element j; high 16 bits: element VL + j
                    IntVector h = v.lanewise(VectorOperators.LSHR, 16 * half).and(0xFFFF);
                    IntVector mag = h.and(0x7FFF);
                    IntVector sign = h.and(0x8000).lanewise(VectorOperators.LSHL, 16);
                    IntVector bits = mag.lanewise(VectorOperators.LSHL, 13).reinterpretAsFloats().mul(TWO_112).reinterpretAsInts();
                    VectorMask<Integer> special = mag.compare(VectorOperators.GE, 0x7C00);
                    if (special.anyTrue()) { // inf, or NaN (quieted, as float16ToFloat does)
                        IntVector nanQuiet = mag.compare(VectorOperators.GT, 0x7C00).toVector().reinterpretAsInts().and(0x00400000);
                        bits = bits.blend(mag.and(0x3FF).lanewise(VectorOperators.LSHL, 13).or(0x7F800000).or(nanQuiet), special);
                    }
                    bits.or(sign).reinterpretAsFloats().intoArray(dst, o + half * VL);
                }
            }
        }
    }

    /** Whether {@link #widenPairs} applies: the float species has as many lanes as the int one (always, here). */
    static final boolean PAIRS = SI.length() == VL;

    /** dst[0 .. n) = BF16 bits at src[byteOff ..] widened. */
    static void bf16ToF32(MemorySegment src, long byteOff, float[] dst, int n) {
        int i = 0;
        if (USABLE) {
            for (; i <= n - VL; i += VL) {
                IntVector h = (IntVector) ShortVector.fromMemorySegment(SS, src, byteOff + 2L * i, NATIVE)
                        .convertShape(VectorOperators.S2I, SI, 0);
                h.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, i);
            }
        }
        for (; i < n; i++) dst[i] = DType.bf16ToF32(src.get(H, byteOff + 2L * i));
    }
}
