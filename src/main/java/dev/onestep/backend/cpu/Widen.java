package dev.onestep.backend.cpu;

import dev.onestep.tensor.DType;
import dev.onestep.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** Bulk widening of host tensors (F32, F16, BF16) into float arrays, for weight packing at prepare time. */
final class Widen {
    private Widen() {}

    /** Element i of a host tensor widened to float. */
    @FunctionalInterface
    interface Reader {
        float at(long i);
    }

    /** Reads a floating host tensor in place (F32, F16, BF16), widening per element. */
    static Reader reader(String op, Tensor t) {
        Checks.require(t != null && t.isHost() && t.dtype().isFloating(), op, "expected a floating host tensor, got", t);
        MemorySegment seg = t.data();
        return switch (t.dtype()) {
            case F32 -> i -> seg.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i);
            case F16 -> i -> Float.float16ToFloat(seg.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i));
            case BF16 -> i -> DType.bf16ToF32(seg.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i));
            default -> throw new IllegalArgumentException(op + ": unsupported dtype " + t.dtype());
        };
    }

    static float[] toFloats(String op, Tensor t) {
        Checks.require(t != null && t.isHost() && t.dtype().isFloating(), op, "expected a floating host tensor, got", t);
        long n = t.numel();
        Checks.require(n < Integer.MAX_VALUE - 8, op, "tensor too large for one array:", t.shape());
        float[] out = new float[(int) n];
        MemorySegment seg = t.data();
        switch (t.dtype()) {
            case F32 -> MemorySegment.copy(seg, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, out, 0, out.length);
            case F16, BF16 -> {
                short[] bits = new short[out.length];
                MemorySegment.copy(seg, ValueLayout.JAVA_SHORT_UNALIGNED, 0, bits, 0, bits.length);
                if (t.dtype() == DType.F16) for (int i = 0; i < bits.length; i++) out[i] = Float.float16ToFloat(bits[i]);
                else for (int i = 0; i < bits.length; i++) out[i] = DType.bf16ToF32(bits[i]); // bf16 = top half of f32
            }
            default -> throw new IllegalArgumentException(op + ": unsupported dtype " + t.dtype());
        }
        return out;
    }
}
