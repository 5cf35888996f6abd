package dev.onestep.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Element-wise kernels over F32 segments: each has a vector loop, a scalar tail and a scalar twin. */
final class Elementwise {
    private Elementwise() {}

    private static final VectorSpecies<Float> S = CpuBackend.SPECIES;
    private static final int VL = S.length();
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    private static final long MIN_CHUNK = 1 << 14;

    enum Unary { SILU, GELU }

    static FloatVector siluVector(FloatVector v) {
        // x / (1 + e^{−x}); e^{−x} → ∞ for very negative x gives −0, as it should
        return v.div(VecMath.exp(v.neg()).add(1f));
    }

    static FloatVector erfVector(FloatVector x0) {
        FloatVector x = x0.max(-4f).min(4f);
        FloatVector x2 = x.mul(x);
        FloatVector p = x2.fma(CpuMath.ERF_A13, CpuMath.ERF_A11);
        p = x2.fma(p, FloatVector.broadcast(S, CpuMath.ERF_A9));
        p = x2.fma(p, FloatVector.broadcast(S, CpuMath.ERF_A7));
        p = x2.fma(p, FloatVector.broadcast(S, CpuMath.ERF_A5));
        p = x2.fma(p, FloatVector.broadcast(S, CpuMath.ERF_A3));
        p = x2.fma(p, FloatVector.broadcast(S, CpuMath.ERF_A1));
        FloatVector q = x2.fma(CpuMath.ERF_B8, CpuMath.ERF_B6);
        q = x2.fma(q, FloatVector.broadcast(S, CpuMath.ERF_B4));
        q = x2.fma(q, FloatVector.broadcast(S, CpuMath.ERF_B2));
        q = x2.fma(q, FloatVector.broadcast(S, CpuMath.ERF_B0));
        return x.mul(p).div(q);
    }

    static FloatVector geluVector(FloatVector x) {
        return x.mul(0.5f).mul(erfVector(x.mul((float) CpuMath.SQRT1_2)).add(1f));
    }

    static void unary(Unary op, MemorySegment x, MemorySegment y, long n, boolean vector) {
        Parallel.parallelRange(n, MIN_CHUNK, (s, e) -> {
            long i = s;
            if (vector) {
                for (; i + VL <= e; i += VL) {
                    FloatVector v = FloatVector.fromMemorySegment(S, x, i * 4, NATIVE);
                    v = op == Unary.SILU ? siluVector(v) : geluVector(v);
                    v.intoMemorySegment(y, i * 4, NATIVE);
                }
            }
            for (; i < e; i++) {
                float v = x.getAtIndex(F, i);
                y.setAtIndex(F, i, op == Unary.SILU ? CpuMath.siluF(v) : CpuMath.geluF(v));
            }
        });
    }

    /** y[r][j] = x[r][j] · gelu(x[r][f + j]) for x [R, 2F], y [R, F]. */
    static void geglu(MemorySegment x, MemorySegment y, long rows, int f, boolean vector) {
        Parallel.parallelRange(rows, Math.max(1, MIN_CHUNK / Math.max(1, f)), (r0, r1) -> {
            for (long r = r0; r < r1; r++) {
                long xi = r * 2 * f, yi = r * f;
                int j = 0;
                if (vector) {
                    for (; j + VL <= f; j += VL) {
                        FloatVector h = FloatVector.fromMemorySegment(S, x, (xi + j) * 4, NATIVE);
                        FloatVector g = FloatVector.fromMemorySegment(S, x, (xi + f + j) * 4, NATIVE);
                        h.mul(geluVector(g)).intoMemorySegment(y, (yi + j) * 4, NATIVE);
                    }
                }
                for (; j < f; j++) y.setAtIndex(F, yi + j, x.getAtIndex(F, xi + j) * CpuMath.geluF(x.getAtIndex(F, xi + f + j)));
            }
        });
    }

    /** out = alpha·x + beta·y (y may be null); out may alias x (in-place add uses alpha = beta = 1). */
    static void axpby(float alpha, MemorySegment x, float beta, MemorySegment y, MemorySegment out, long n, boolean vector) {
        Parallel.parallelRange(n, MIN_CHUNK, (s, e) -> {
            long i = s;
            if (vector) {
                for (; i + VL <= e; i += VL) {
                    FloatVector v = FloatVector.fromMemorySegment(S, x, i * 4, NATIVE);
                    if (y == null) v = v.mul(alpha);
                    else if (alpha == 1f && beta == 1f) v = v.add(FloatVector.fromMemorySegment(S, y, i * 4, NATIVE));
                    else v = FloatVector.fromMemorySegment(S, y, i * 4, NATIVE).mul(beta).add(v.mul(alpha));
                    v.intoMemorySegment(out, i * 4, NATIVE);
                }
            }
            for (; i < e; i++) {
                float v = x.getAtIndex(F, i);
                if (y == null) v = alpha * v;
                else if (alpha == 1f && beta == 1f) v = v + y.getAtIndex(F, i);
                else v = beta * y.getAtIndex(F, i) + alpha * v;
                out.setAtIndex(F, i, v);
            }
        });
    }

    /** out[b][p][c] = x[b][p][c] + v[b][c]. */
    static void addPerChannel(MemorySegment x, MemorySegment v, MemorySegment out, int n, long p, int c, boolean vector) {
        float[] vv = new float[n * c];
        MemorySegment.copy(v, F, 0, vv, 0, vv.length);
        long rows = (long) n * p;
        Parallel.parallelRange(rows, Math.max(1, MIN_CHUNK / Math.max(1, c)), (r0, r1) -> {
            for (long r = r0; r < r1; r++) {
                int vb = (int) (r / p) * c;
                long off = r * c;
                int j = 0;
                if (vector) {
                    for (; j + VL <= c; j += VL)
                        FloatVector.fromMemorySegment(S, x, (off + j) * 4, NATIVE).add(FloatVector.fromArray(S, vv, vb + j))
                                .intoMemorySegment(out, (off + j) * 4, NATIVE);
                }
                for (; j < c; j++) out.setAtIndex(F, off + j, x.getAtIndex(F, off + j) + vv[vb + j]);
            }
        });
    }

    /**
     * Copies rows: dst[r][dstOff + j] = src[r][srcOff + j], j < len, with row strides srcC and dstC (concat, slice).
     */
    static void copyColumns(MemorySegment src, int srcC, int srcOff, MemorySegment dst, int dstC, int dstOff, int len, long rows) {
        if (len == 0) return;
        Parallel.parallelRange(rows, Math.max(1, MIN_CHUNK / len), (r0, r1) -> {
            for (long r = r0; r < r1; r++)
                MemorySegment.copy(src, (r * srcC + srcOff) * 4, dst, (r * dstC + dstOff) * 4, len * 4L);
        });
    }
}
