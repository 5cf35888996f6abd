package dev.onestep.backend;

import dev.onestep.tensor.Tensor;

import java.util.Arrays;

/**
 * Shape checks every backend runs before an op, so a wrong call fails the same way everywhere: an
 * IllegalArgumentException naming the op and the shapes. Backends extend this class (its static methods are then
 * theirs too) and add their own storage checks (host F32 on the CPU, device tensors on CUDA).
 */
public class OpChecks {
    protected OpChecks() {}

    public static void require(boolean ok, String op, String message, Object... shapes) {
        if (ok) return;
        StringBuilder sb = new StringBuilder(op).append(": ").append(message);
        for (Object s : shapes) sb.append(' ').append(s instanceof int[] a ? Arrays.toString(a) : String.valueOf(s));
        throw new IllegalArgumentException(sb.toString());
    }

    public static void sameShape(String op, Tensor a, Tensor b) {
        require(Arrays.equals(a.shape(), b.shape()), op, "shapes differ:", a.shape(), b.shape());
    }

    /** Product of all dimensions but the last. */
    public static long rows(Tensor t) {
        return t.numel() / Math.max(1, t.dim(-1));
    }

    public static int[] withLast(int[] shape, int last) {
        int[] s = shape.clone();
        s[s.length - 1] = last;
        return s;
    }

    public static void checkConv(String op, Tensor x, int inChannels, int kh, int kw, int stride, Padding pad) {
        require(x.rank() == 4, op, "x must be [N, H, W, C], got", x.shape());
        require(x.dim(3) == inChannels, op, "x has " + x.dim(3) + " channels, weights expect " + inChannels + "; x", x.shape());
        require(stride >= 1, op, "stride must be >= 1, got " + stride);
        require(pad != null, op, "padding is null");
        int oh = pad.outSize(x.dim(1), kh, stride, true), ow = pad.outSize(x.dim(2), kw, stride, false);
        require(oh > 0 && ow > 0, op, "empty output for kernel " + kh + "x" + kw + " stride " + stride + " " + pad + "; x", x.shape());
    }

    public static void checkAttention(String op, Tensor q, Tensor k, Tensor v, int heads) {
        require(q.rank() == 3 && k.rank() == 3 && v.rank() == 3, op, "q, k, v must be [N, L, C]; got", q.shape(), k.shape(), v.shape());
        require(heads >= 1, op, "heads must be >= 1, got " + heads);
        require(q.dim(0) == k.dim(0) && k.dim(0) == v.dim(0), op, "batch sizes differ:", q.shape(), k.shape(), v.shape());
        require(k.dim(1) == v.dim(1), op, "k and v lengths differ:", k.shape(), v.shape());
        require(q.dim(2) == k.dim(2), op, "q and k channels differ:", q.shape(), k.shape());
        require(q.dim(2) % heads == 0 && v.dim(2) % heads == 0, op, "channels not divisible by " + heads + " heads:", q.shape(), v.shape());
        require(k.dim(1) > 0, op, "no keys:", k.shape());
    }

    public static void checkGroupNorm(String op, Tensor x, int groups, Tensor gamma, Tensor beta) {
        require(x.rank() >= 2, op, "x must be [N, ..., C], got", x.shape());
        int c = x.dim(-1);
        require(groups >= 1 && c % groups == 0, op, c + " channels not divisible into " + groups + " groups; x", x.shape());
        require(gamma.numel() == c && beta.numel() == c, op, "gamma/beta must have " + c + " values, got", gamma.shape(), beta.shape());
    }

    public static void checkLayerNorm(String op, Tensor x, Tensor gamma, Tensor beta) {
        require(x.rank() >= 1 && x.dim(-1) > 0, op, "bad x", x.shape());
        int c = x.dim(-1);
        require(gamma.numel() == c && beta.numel() == c, op, "gamma/beta must have " + c + " values, got", gamma.shape(), beta.shape());
    }

    public static void checkUpsample(String op, Tensor x, int outH, int outW) {
        require(x.rank() == 4, op, "x must be [N, H, W, C], got", x.shape());
        require(outH > 0 && outW > 0, op, "output size must be positive, got " + outH + "x" + outW + "; x", x.shape());
        require(x.dim(1) > 0 && x.dim(2) > 0, op, "empty input", x.shape());
    }

    public static void checkTimestep(String op, float[] t, int dim) {
        require(t != null, op, "timesteps is null");
        require(dim >= 2, op, "dim must be >= 2, got " + dim);
    }

    public static void checkEmbedding(String op, Tensor table, int[] ids) {
        require(table.rank() == 2, op, "table must be [V, C], got", table.shape());
        require(ids != null, op, "ids is null");
        for (int id : ids) require(id >= 0 && id < table.dim(0), op, "id " + id + " out of range for table", table.shape());
    }

    public static void checkConcat(String op, Tensor a, Tensor b) {
        boolean ok = a.rank() == b.rank() && a.rank() >= 1;
        for (int i = 0; ok && i < a.rank() - 1; i++) ok = a.dim(i) == b.dim(i);
        require(ok, op, "all dimensions but the last must match:", a.shape(), b.shape());
    }

    public static void checkSlice(String op, Tensor x, int start, int count) {
        require(x.rank() >= 1 && start >= 0 && count >= 0 && start + count <= x.dim(-1), op,
                "channels [" + start + ", " + (start + count) + ") out of range for x", x.shape());
    }

    public static void checkAddPerChannel(String op, Tensor x, Tensor v) {
        require(x.rank() >= 2, op, "x must be [N, ..., C], got", x.shape());
        require(v.numel() == (long) x.dim(0) * x.dim(-1) && v.dim(-1) == x.dim(-1), op, "v must be [N, C] for x", x.shape(), "v", v.shape());
    }
}
