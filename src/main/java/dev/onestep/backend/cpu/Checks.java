package dev.onestep.backend.cpu;

import dev.onestep.tensor.DType;
import dev.onestep.tensor.Tensor;

import java.util.Arrays;

/** Argument checks shared by the CPU backends: every failure names the op and the shapes. */
final class Checks {
    private Checks() {}

    static void require(boolean ok, String op, String message, Object... shapes) {
        if (ok) return;
        StringBuilder sb = new StringBuilder(op).append(": ").append(message);
        for (Object s : shapes) sb.append(' ').append(s instanceof int[] a ? Arrays.toString(a) : String.valueOf(s));
        throw new IllegalArgumentException(sb.toString());
    }

    /** An open host F32 tensor (what both CPU backends compute on). */
    static Tensor f32(String op, String name, Tensor t) {
        if (t == null) throw new IllegalArgumentException(op + ": " + name + " is null");
        require(t.isHost() && t.dtype() == DType.F32 && !t.isClosed(), op, name + " must be an open host F32 tensor, got", t);
        return t;
    }

    static void sameShape(String op, Tensor a, Tensor b) {
        require(Arrays.equals(a.shape(), b.shape()), op, "shapes differ:", a.shape(), b.shape());
    }

    /** Product of all dimensions but the last. */
    static long rows(Tensor t) {
        return t.numel() / Math.max(1, t.dim(-1));
    }

    static int[] withLast(int[] shape, int last) {
        int[] s = shape.clone();
        s[s.length - 1] = last;
        return s;
    }

    static void checkConv(String op, Tensor x, int inChannels, int kh, int kw, int stride, dev.onestep.backend.Padding pad) {
        f32(op, "x", x);
        require(x.rank() == 4, op, "x must be [N, H, W, C], got", x.shape());
        require(x.dim(3) == inChannels, op, "x has " + x.dim(3) + " channels, weights expect " + inChannels + "; x", x.shape());
        require(stride >= 1, op, "stride must be >= 1, got " + stride);
        require(pad != null, op, "padding is null");
        int oh = pad.outSize(x.dim(1), kh, stride, true), ow = pad.outSize(x.dim(2), kw, stride, false);
        require(oh > 0 && ow > 0, op, "empty output for kernel " + kh + "x" + kw + " stride " + stride + " " + pad + "; x", x.shape());
    }

    static void checkAttention(String op, Tensor q, Tensor k, Tensor v, int heads) {
        f32(op, "q", q);
        f32(op, "k", k);
        f32(op, "v", v);
        require(q.rank() == 3 && k.rank() == 3 && v.rank() == 3, op, "q, k, v must be [N, L, C]; got", q.shape(), k.shape(), v.shape());
        require(heads >= 1, op, "heads must be >= 1, got " + heads);
        require(q.dim(0) == k.dim(0) && k.dim(0) == v.dim(0), op, "batch sizes differ:", q.shape(), k.shape(), v.shape());
        require(k.dim(1) == v.dim(1), op, "k and v lengths differ:", k.shape(), v.shape());
        require(q.dim(2) == k.dim(2), op, "q and k channels differ:", q.shape(), k.shape());
        require(q.dim(2) % heads == 0 && v.dim(2) % heads == 0, op, "channels not divisible by " + heads + " heads:", q.shape(), v.shape());
        require(k.dim(1) > 0, op, "no keys:", k.shape());
    }

    static void checkGroupNorm(String op, Tensor x, int groups, Tensor gamma, Tensor beta) {
        f32(op, "x", x);
        f32(op, "gamma", gamma);
        f32(op, "beta", beta);
        require(x.rank() >= 2, op, "x must be [N, ..., C], got", x.shape());
        int c = x.dim(-1);
        require(groups >= 1 && c % groups == 0, op, c + " channels not divisible into " + groups + " groups; x", x.shape());
        require(gamma.numel() == c && beta.numel() == c, op, "gamma/beta must have " + c + " values, got", gamma.shape(), beta.shape());
    }

    static void checkLayerNorm(String op, Tensor x, Tensor gamma, Tensor beta) {
        f32(op, "x", x);
        f32(op, "gamma", gamma);
        f32(op, "beta", beta);
        require(x.rank() >= 1 && x.dim(-1) > 0, op, "bad x", x.shape());
        int c = x.dim(-1);
        require(gamma.numel() == c && beta.numel() == c, op, "gamma/beta must have " + c + " values, got", gamma.shape(), beta.shape());
    }

    static void checkUpsample(String op, Tensor x, int outH, int outW) {
        f32(op, "x", x);
        require(x.rank() == 4, op, "x must be [N, H, W, C], got", x.shape());
        require(outH > 0 && outW > 0, op, "output size must be positive, got " + outH + "x" + outW + "; x", x.shape());
        require(x.dim(1) > 0 && x.dim(2) > 0, op, "empty input", x.shape());
    }

    static void checkTimestep(String op, float[] t, int dim) {
        require(t != null, op, "timesteps is null");
        require(dim >= 2, op, "dim must be >= 2, got " + dim);
    }

    static void checkEmbedding(String op, Tensor table, int[] ids) {
        f32(op, "table", table);
        require(table.rank() == 2, op, "table must be [V, C], got", table.shape());
        require(ids != null, op, "ids is null");
        for (int id : ids) require(id >= 0 && id < table.dim(0), op, "id " + id + " out of range for table", table.shape());
    }

    static void checkConcat(String op, Tensor a, Tensor b) {
        f32(op, "a", a);
        f32(op, "b", b);
        boolean ok = a.rank() == b.rank() && a.rank() >= 1;
        for (int i = 0; ok && i < a.rank() - 1; i++) ok = a.dim(i) == b.dim(i);
        require(ok, op, "all dimensions but the last must match:", a.shape(), b.shape());
    }

    static void checkSlice(String op, Tensor x, int start, int count) {
        f32(op, "x", x);
        require(x.rank() >= 1 && start >= 0 && count >= 0 && start + count <= x.dim(-1), op,
                "channels [" + start + ", " + (start + count) + ") out of range for x", x.shape());
    }

    static void checkAddPerChannel(String op, Tensor x, Tensor v) {
        f32(op, "x", x);
        f32(op, "v", v);
        require(x.rank() >= 2, op, "x must be [N, ..., C], got", x.shape());
        require(v.numel() == (long) x.dim(0) * x.dim(-1) && v.dim(-1) == x.dim(-1), op, "v must be [N, C] for x", x.shape(), "v", v.shape());
    }
}
