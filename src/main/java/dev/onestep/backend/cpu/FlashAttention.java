package dev.onestep.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Tiled attention with an online softmax (flash-attention style): no Lq × Lk score matrix ever exists.
 *
 * <p>First K and V are repacked per (batch, head): Kᵀ as [d][LkP] (so a score row is a broadcast-FMA over keys,
 * vectorised along keys) and V as [LkP][dvP] (vectorised along the value channels); LkP and dvP are padded with
 * zeros to whole vector pairs. Then each task takes one (batch, head, BQ-query tile) and walks BK-key tiles:
 * S = (scale·Q)·Kᵀ, running max m and sum l per row, O = O·e^{m_old − m_new} + e^{S − m_new}·V; finally O / l.
 */
final class FlashAttention {
    private FlashAttention() {}

    private static final VectorSpecies<Float> S = CpuBackend.SPECIES;
    private static final int VL = S.length();
    private static final int BQ = Integer.getInteger("onestep.cpu.attnBq", 64) / 4 * 4;
    private static final int BK_MAX = Integer.getInteger("onestep.cpu.attnBk", 128);
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private static final class Scratch {
        float[] q = new float[0], s = new float[0], o = new float[0];
        float[] m = new float[BQ], l = new float[BQ];
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /** q [N, Lq, H·d], k [N, Lk, H·d], v [N, Lk, H·dv] → out [N, Lq, H·dv]. */
    static void run(MemorySegment q, MemorySegment k, MemorySegment v, MemorySegment out,
                    int n, int lq, int lk, int heads, int d, int dv, float scale, boolean causal, boolean vector) {
        int pair = 2 * VL;
        int bk = Math.min(BK_MAX, (lk + pair - 1) / pair * pair);
        int lkp = (lk + bk - 1) / bk * bk;
        int dvp = (dv + pair - 1) / pair * pair;
        int nh = n * heads;
        // Kᵀ and V per (batch, head); float arrays indexed by int, so guard the size.
        if ((long) nh * d * lkp > Integer.MAX_VALUE - 8 || (long) nh * lkp * dvp > Integer.MAX_VALUE - 8)
            throw new IllegalArgumentException("attention: K/V too large to repack: N=" + n + " heads=" + heads + " Lk=" + lk);
        float[] kt = new float[nh * d * lkp];
        float[] vp = new float[nh * lkp * dvp];
        int qc = heads * d, vc = heads * dv;
        Parallel.parallelFor(nh, bh -> {
            int b = bh / heads, hd = bh % heads;
            int kBase = bh * d * lkp, vBase = bh * lkp * dvp;
            float[] row = new float[Math.max(d, dv)];
            for (int j = 0; j < lk; j++) {
                MemorySegment.copy(k, F, (((long) b * lk + j) * qc + (long) hd * d) * 4, row, 0, d);
                for (int c = 0; c < d; c++) kt[kBase + c * lkp + j] = row[c];
                MemorySegment.copy(v, F, (((long) b * lk + j) * vc + (long) hd * dv) * 4, vp, vBase + j * dvp, dv);
            }
        });
        int qTiles = (lq + BQ - 1) / BQ;
        Parallel.parallelFor(nh * qTiles, task -> {
            int bh = task / qTiles, qt = task % qTiles;
            int b = bh / heads, hd = bh % heads;
            int i0 = qt * BQ, rows = Math.min(BQ, lq - i0);
            int rowsP = (rows + 3) / 4 * 4;
            Scratch s = SCRATCH.get();
            if (s.q.length < BQ * d) s.q = new float[BQ * d];
            if (s.s.length < BQ * bk) s.s = new float[BQ * bk];
            if (s.o.length < BQ * dvp) s.o = new float[BQ * dvp];
            float[] qs = s.q, sc = s.s, o = s.o, m = s.m, l = s.l;
            java.util.Arrays.fill(qs, 0, rowsP * d, 0f);
            for (int r = 0; r < rows; r++) {
                MemorySegment.copy(q, F, (((long) b * lq + i0 + r) * qc + (long) hd * d) * 4, qs, r * d, d);
                for (int c = 0; c < d; c++) qs[r * d + c] *= scale;
            }
            java.util.Arrays.fill(o, 0, rowsP * dvp, 0f);
            java.util.Arrays.fill(m, Float.NEGATIVE_INFINITY);
            java.util.Arrays.fill(l, 0f);
            int kBase = bh * d * lkp, vBase = bh * lkp * dvp;
            int kEnd = causal ? Math.min(lk, i0 + rows) : lk;
            for (int j0 = 0; j0 < kEnd; j0 += bk) {
                int valid = Math.min(bk, lk - j0);
                if (vector) scoresVector(qs, rowsP, d, kt, kBase + j0, lkp, bk, sc);
                else scoresScalar(qs, rowsP, d, kt, kBase + j0, lkp, bk, sc);
                for (int r = 0; r < rows; r++) {
                    int limit = causal ? Math.min(valid, i0 + r - j0 + 1) : valid; // keys [j0, j0 + limit) visible
                    softmaxRow(sc, r * bk, bk, limit, m, l, r, o, r * dvp, dvp, vector);
                }
                for (int r = rows; r < rowsP; r++) java.util.Arrays.fill(sc, r * bk, r * bk + bk, 0f);
                if (vector) accumulateVector(sc, rowsP, bk, vp, vBase + j0 * dvp, dvp, o);
                else accumulateScalar(sc, rowsP, bk, vp, vBase + j0 * dvp, dvp, o);
            }
            for (int r = 0; r < rows; r++) {
                float inv = l[r] > 0 ? 1f / l[r] : 0f;
                for (int c = 0; c < dv; c++) o[r * dvp + c] *= inv;
                MemorySegment.copy(o, r * dvp, out, F, (((long) b * lq + i0 + r) * vc + (long) hd * dv) * 4, dv);
            }
        });
    }

    /** sc[r][j] = Σ_c qs[r][c] · kt[c·lkp + j] for rows (multiple of 4) × bk (multiple of 2·VL). */
    private static void scoresVector(float[] qs, int rows, int d, float[] kt, int kOff, int lkp, int bk, float[] sc) {
        for (int r = 0; r < rows; r += 4) {
            int q0 = r * d, q1 = q0 + d, q2 = q1 + d, q3 = q2 + d;
            for (int j = 0; j < bk; j += 2 * VL) {
                FloatVector a0 = FloatVector.zero(S), b0 = FloatVector.zero(S);
                FloatVector a1 = FloatVector.zero(S), b1 = FloatVector.zero(S);
                FloatVector a2 = FloatVector.zero(S), b2 = FloatVector.zero(S);
                FloatVector a3 = FloatVector.zero(S), b3 = FloatVector.zero(S);
                for (int c = 0; c < d; c++) {
                    int ko = kOff + c * lkp + j;
                    FloatVector k0 = FloatVector.fromArray(S, kt, ko), k1 = FloatVector.fromArray(S, kt, ko + VL);
                    FloatVector x = FloatVector.broadcast(S, qs[q0 + c]);
                    a0 = k0.fma(x, a0);
                    b0 = k1.fma(x, b0);
                    x = FloatVector.broadcast(S, qs[q1 + c]);
                    a1 = k0.fma(x, a1);
                    b1 = k1.fma(x, b1);
                    x = FloatVector.broadcast(S, qs[q2 + c]);
                    a2 = k0.fma(x, a2);
                    b2 = k1.fma(x, b2);
                    x = FloatVector.broadcast(S, qs[q3 + c]);
                    a3 = k0.fma(x, a3);
                    b3 = k1.fma(x, b3);
                }
                a0.intoArray(sc, r * bk + j);
                b0.intoArray(sc, r * bk + j + VL);
                a1.intoArray(sc, (r + 1) * bk + j);
                b1.intoArray(sc, (r + 1) * bk + j + VL);
                a2.intoArray(sc, (r + 2) * bk + j);
                b2.intoArray(sc, (r + 2) * bk + j + VL);
                a3.intoArray(sc, (r + 3) * bk + j);
                b3.intoArray(sc, (r + 3) * bk + j + VL);
            }
        }
    }

    private static void scoresScalar(float[] qs, int rows, int d, float[] kt, int kOff, int lkp, int bk, float[] sc) {
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < bk; j++) {
                float acc = 0f;
                for (int c = 0; c < d; c++) acc = Math.fma(qs[r * d + c], kt[kOff + c * lkp + j], acc);
                sc[r * bk + j] = acc;
            }
    }

    /**
     * Online softmax for one row of a key tile: keys [0, limit) are visible, the rest masked. Turns the scores
     * into e^{s − m_new} (0 where masked), updates m and l, and rescales the row's output accumulator.
     */
    private static void softmaxRow(float[] sc, int off, int bk, int limit, float[] m, float[] l, int r,
                                   float[] o, int oOff, int dvp, boolean vector) {
        if (limit <= 0) {
            java.util.Arrays.fill(sc, off, off + bk, 0f);
            return;
        }
        float mx = Float.NEGATIVE_INFINITY;
        int j = 0;
        if (vector) {
            FloatVector mv = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
            for (; j + VL <= limit; j += VL) mv = mv.max(FloatVector.fromArray(S, sc, off + j));
            mx = mv.reduceLanes(VectorOperators.MAX);
        }
        for (; j < limit; j++) mx = Math.max(mx, sc[off + j]);
        float mNew = Math.max(m[r], mx);
        float corr = VecMath.exp(m[r] - mNew); // m[r] = −∞ the first time: corr = 0
        float sum = 0f;
        j = 0;
        if (vector) {
            FloatVector mv = FloatVector.broadcast(S, mNew), acc = FloatVector.zero(S);
            for (; j + VL <= limit; j += VL) {
                FloatVector e = FloatVector.fromArray(S, sc, off + j).sub(mv);
                e = VecMath.exp(e);
                e.intoArray(sc, off + j);
                acc = acc.add(e);
            }
            sum = VecMath.sum(acc);
        }
        for (; j < limit; j++) {
            float e = VecMath.exp(sc[off + j] - mNew);
            sc[off + j] = e;
            sum += e;
        }
        java.util.Arrays.fill(sc, off + limit, off + bk, 0f);
        l[r] = l[r] * corr + sum;
        m[r] = mNew;
        if (corr != 1f) {
            int c = 0;
            if (vector) for (; c < dvp; c += VL) FloatVector.fromArray(S, o, oOff + c).mul(corr).intoArray(o, oOff + c); // dvp: whole vectors
            for (; c < dvp; c++) o[oOff + c] *= corr;
        }
    }

    /** o[r][c] += Σ_j p[r][j] · v[j][c], rows multiple of 4, dvp multiple of 2·VL. */
    private static void accumulateVector(float[] p, int rows, int bk, float[] v, int vOff, int dvp, float[] o) {
        for (int r = 0; r < rows; r += 4) {
            int p0 = r * bk, p1 = p0 + bk, p2 = p1 + bk, p3 = p2 + bk;
            for (int c = 0; c < dvp; c += 2 * VL) {
                int o0 = r * dvp + c, o1 = o0 + dvp, o2 = o1 + dvp, o3 = o2 + dvp;
                FloatVector a0 = FloatVector.fromArray(S, o, o0), b0 = FloatVector.fromArray(S, o, o0 + VL);
                FloatVector a1 = FloatVector.fromArray(S, o, o1), b1 = FloatVector.fromArray(S, o, o1 + VL);
                FloatVector a2 = FloatVector.fromArray(S, o, o2), b2 = FloatVector.fromArray(S, o, o2 + VL);
                FloatVector a3 = FloatVector.fromArray(S, o, o3), b3 = FloatVector.fromArray(S, o, o3 + VL);
                for (int j = 0; j < bk; j++) {
                    int vo = vOff + j * dvp + c;
                    FloatVector v0 = FloatVector.fromArray(S, v, vo), v1 = FloatVector.fromArray(S, v, vo + VL);
                    FloatVector x = FloatVector.broadcast(S, p[p0 + j]);
                    a0 = v0.fma(x, a0);
                    b0 = v1.fma(x, b0);
                    x = FloatVector.broadcast(S, p[p1 + j]);
                    a1 = v0.fma(x, a1);
                    b1 = v1.fma(x, b1);
                    x = FloatVector.broadcast(S, p[p2 + j]);
                    a2 = v0.fma(x, a2);
                    b2 = v1.fma(x, b2);
                    x = FloatVector.broadcast(S, p[p3 + j]);
                    a3 = v0.fma(x, a3);
                    b3 = v1.fma(x, b3);
                }
                a0.intoArray(o, o0);
                b0.intoArray(o, o0 + VL);
                a1.intoArray(o, o1);
                b1.intoArray(o, o1 + VL);
                a2.intoArray(o, o2);
                b2.intoArray(o, o2 + VL);
                a3.intoArray(o, o3);
                b3.intoArray(o, o3 + VL);
            }
        }
    }

    private static void accumulateScalar(float[] p, int rows, int bk, float[] v, int vOff, int dvp, float[] o) {
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < bk; j++) {
                float pj = p[r * bk + j];
                if (pj == 0f) continue;
                int vo = vOff + j * dvp;
                for (int c = 0; c < dvp; c++) o[r * dvp + c] = Math.fma(pj, v[vo + c], o[r * dvp + c]);
            }
    }
}
