package dev.onestep.backend.cpu;

import dev.onestep.backend.OpChecks;
import dev.onestep.backend.Padding;
import dev.onestep.tensor.DType;
import dev.onestep.tensor.Tensor;

/**
 * Argument checks of the CPU backends: the shared shape checks of {@link OpChecks} (inherited), preceded by the
 * CPU's storage check: every tensor an open host F32 tensor.
 */
final class Checks extends OpChecks {
    private Checks() {}

    /** An open host F32 tensor (what both CPU backends compute on). */
    static Tensor f32(String op, String name, Tensor t) {
        if (t == null) throw new IllegalArgumentException(op + ": " + name + " is null");
        require(t.isHost() && t.dtype() == DType.F32 && !t.isClosed(), op, name + " must be an open host F32 tensor, got", t);
        return t;
    }

    public static void checkConv(String op, Tensor x, int inChannels, int kh, int kw, int stride, Padding pad) {
        f32(op, "x", x);
        OpChecks.checkConv(op, x, inChannels, kh, kw, stride, pad);
    }

    public static void checkAttention(String op, Tensor q, Tensor k, Tensor v, int heads) {
        f32(op, "q", q);
        f32(op, "k", k);
        f32(op, "v", v);
        OpChecks.checkAttention(op, q, k, v, heads);
    }

    public static void checkGroupNorm(String op, Tensor x, int groups, Tensor gamma, Tensor beta) {
        f32(op, "x", x);
        f32(op, "gamma", gamma);
        f32(op, "beta", beta);
        OpChecks.checkGroupNorm(op, x, groups, gamma, beta);
    }

    public static void checkLayerNorm(String op, Tensor x, Tensor gamma, Tensor beta) {
        f32(op, "x", x);
        f32(op, "gamma", gamma);
        f32(op, "beta", beta);
        OpChecks.checkLayerNorm(op, x, gamma, beta);
    }

    public static void checkUpsample(String op, Tensor x, int outH, int outW) {
        f32(op, "x", x);
        OpChecks.checkUpsample(op, x, outH, outW);
    }

    public static void checkEmbedding(String op, Tensor table, int[] ids) {
        f32(op, "table", table);
        OpChecks.checkEmbedding(op, table, ids);
    }

    public static void checkConcat(String op, Tensor a, Tensor b) {
        f32(op, "a", a);
        f32(op, "b", b);
        OpChecks.checkConcat(op, a, b);
    }

    public static void checkSlice(String op, Tensor x, int start, int count) {
        f32(op, "x", x);
        OpChecks.checkSlice(op, x, start, count);
    }

    public static void checkAddPerChannel(String op, Tensor x, Tensor v) {
        f32(op, "x", x);
        f32(op, "v", v);
        OpChecks.checkAddPerChannel(op, x, v);
    }

    /**
     * Upload and download on the CPU backends: a new host F32 copy of a host tensor (widened from F16/BF16).
     * {@code floatingOnly} for upload, which accepts only floating checkpoint/activation data.
     */
    static Tensor hostF32Copy(String op, Tensor t, boolean floatingOnly) {
        require(t != null && t.isHost() && (!floatingOnly || t.dtype().isFloating()), op,
                floatingOnly ? "expected a floating host tensor, got" : "expected a host tensor, got", t);
        return t.toF32();
    }
}
