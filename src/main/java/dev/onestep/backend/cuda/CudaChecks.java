package dev.onestep.backend.cuda;

import dev.onestep.backend.Padding;
import dev.onestep.tensor.DType;
import dev.onestep.tensor.Tensor;

import java.util.Arrays;

/** Argument checks for the CUDA backend; every failure names the op and the shapes (as the CPU backends' checks). */
final class CudaChecks {
    private CudaChecks() {}

    static void require(boolean ok, String op, String message, Object... shapes) {
        if (ok) return;
        StringBuilder sb = new StringBuilder(op).append(": ").append(message);
        for (Object s : shapes) sb.append(' ').append(s instanceof int[] a ? Arrays.toString(a) : String.valueOf(s));
        throw new IllegalArgumentException(sb.toString());
    }

    /** An open device tensor of the given dtype. */
    static Tensor device(String op, String name, Tensor t, DType dtype) {
        if (t == null) throw new IllegalArgumentException(op + ": " + name + " is null");
        require(t.location() == Tensor.Location.DEVICE && t.dtype() == dtype && !t.isClosed(), op,
                name + " must be an open CUDA " + dtype + " tensor (from this backend), got", t);
        return t;
    }

    static void sameShape(String op, Tensor a, Tensor b) {
        require(Arrays.equals(a.shape(), b.shape()), op, "shapes differ:", a.shape(), b.shape());
    }

    static long rows(Tensor t) {
        return t.numel() / Math.max(1, t.dim(-1));
    }

    static int[] withLast(int[] shape, int last) {
        int[] s = shape.clone();
        s[s.length - 1] = last;
        return s;
    }

    static void checkConv(String op, Tensor x, int inChannels, int kh, int kw, int stride, Padding pad) {
        require(x.rank() == 4, op, "x must be [N, H, W, C], got", x.shape());
        require(x.dim(3) == inChannels, op, "x has " + x.dim(3) + " channels, weights expect " + inChannels + "; x", x.shape());
        require(stride >= 1, op, "stride must be >= 1, got " + stride);
        require(pad != null, op, "padding is null");
        int oh = pad.outSize(x.dim(1), kh, stride, true), ow = pad.outSize(x.dim(2), kw, stride, false);
        require(oh > 0 && ow > 0, op, "empty output for kernel " + kh + "x" + kw + " stride " + stride + " " + pad + "; x", x.shape());
    }

    static void checkAttention(String op, Tensor q, Tensor k, Tensor v, int heads) {
        require(q.rank() == 3 && k.rank() == 3 && v.rank() == 3, op, "q, k, v must be [N, L, C]; got", q.shape(), k.shape(), v.shape());
        require(heads >= 1, op, "heads must be >= 1, got " + heads);
        require(q.dim(0) == k.dim(0) && k.dim(0) == v.dim(0), op, "batch sizes differ:", q.shape(), k.shape(), v.shape());
        require(k.dim(1) == v.dim(1), op, "k and v lengths differ:", k.shape(), v.shape());
        require(q.dim(2) == k.dim(2), op, "q and k channels differ:", q.shape(), k.shape());
        require(q.dim(2) % heads == 0 && v.dim(2) % heads == 0, op, "channels not divisible by " + heads + " heads:", q.shape(), v.shape());
        require(k.dim(1) > 0, op, "no keys:", k.shape());
    }

    static void checkGroupNorm(String op, Tensor x, int groups, Tensor gamma, Tensor beta) {
        require(x.rank() >= 2, op, "x must be [N, ..., C], got", x.shape());
        int c = x.dim(-1);
        require(groups >= 1 && c % groups == 0, op, c + " channels not divisible into " + groups + " groups; x", x.shape());
        require(gamma.numel() == c && beta.numel() == c, op, "gamma/beta must have " + c + " values, got", gamma.shape(), beta.shape());
    }

    static void checkLayerNorm(String op, Tensor x, Tensor gamma, Tensor beta) {
        require(x.rank() >= 1 && x.dim(-1) > 0, op, "bad x", x.shape());
        int c = x.dim(-1);
        require(gamma.numel() == c && beta.numel() == c, op, "gamma/beta must have " + c + " values, got", gamma.shape(), beta.shape());
    }

    static void checkConcat(String op, Tensor a, Tensor b) {
        boolean ok = a.rank() == b.rank() && a.rank() >= 1;
        for (int i = 0; ok && i < a.rank() - 1; i++) ok = a.dim(i) == b.dim(i);
        require(ok, op, "all dimensions but the last must match:", a.shape(), b.shape());
    }
}
