package dev.onestep.tensor;

/** Element types OneStep reads from checkpoints and computes in. Names follow safetensors' dtype strings. */
public enum DType {
    F32(4, "F32"),
    F16(2, "F16"),
    BF16(2, "BF16"),
    I64(8, "I64"),
    I32(4, "I32"),
    U8(1, "U8");

    private final int byteSize;
    private final String safetensorsName;

    DType(int byteSize, String safetensorsName) {
        this.byteSize = byteSize;
        this.safetensorsName = safetensorsName;
    }

    public int byteSize() { return byteSize; }

    public String safetensorsName() { return safetensorsName; }

    public boolean isFloating() { return this == F32 || this == F16 || this == BF16; }

    /** The dtype for a safetensors header string ("F32", "F16", "BF16", ...), or null when unsupported. */
    public static DType fromSafetensors(String name) {
        for (DType d : values()) if (d.safetensorsName.equals(name)) return d;
        return null;
    }

    /** Parses a user-facing compute dtype: fp32, fp16, bf16 (also f32/float32/half/bfloat16). */
    /** The --dtype spelling of a compute dtype: fp32, fp16, bf16 (else the enum name, lower case). */
    public String computeName() {
        return switch (this) {
            case F32 -> "fp32";
            case F16 -> "fp16";
            case BF16 -> "bf16";
            default -> name().toLowerCase(java.util.Locale.ROOT);
        };
    }

    public static DType parseCompute(String s) {
        return switch (s.toLowerCase(java.util.Locale.ROOT)) {
            case "fp32", "f32", "float32", "float" -> F32;
            case "fp16", "f16", "float16", "half" -> F16;
            case "bf16", "bfloat16" -> BF16;
            default -> throw new IllegalArgumentException("unknown dtype '" + s + "' (expected fp32, bf16 or fp16)");
        };
    }

    /** IEEE half bits to float. */
    public static float f16ToF32(short bits) { return Float.float16ToFloat(bits); }

    /** bfloat16 is the top 16 bits of an IEEE float32: sign(1) exponent(8) mantissa(7). Widening is a shift. */
    public static float bf16ToF32(short bits) { return Float.intBitsToFloat((bits & 0xFFFF) << 16); }

    /** Round-to-nearest-even float to bfloat16 (NaN kept quiet). */
    public static short f32ToBf16(float f) {
        int x = Float.floatToRawIntBits(f);
        if ((x & 0x7fffffff) > 0x7f800000) return (short) ((x >>> 16) | 0x40);
        int rounding = 0x7fff + ((x >>> 16) & 1);
        return (short) ((x + rounding) >>> 16);
    }

    public static short f32ToF16(float f) { return Float.floatToFloat16(f); }
}
