package dev.onestep.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Non-causal attention over long sequences as two GEMMs per (batch, head, query block) on the packed GEMM engine:
 * S = Q·Kᵀ (K packed once per head as the B operand), exp(scale·S − row max) in place, then O = exp(·)·V written
 * straight into the head's output columns and divided there by each row's sum (an exact softmax, normalised on the
 * dv outputs instead of the Lk probabilities). The score block is BQ × Lk floats per thread (off-heap;
 * Lk = 9216 at BQ = 48: 1.8 MB), never the full Lq × Lk matrix.
 *
 * <p>For long sequences this runs at GEMM speed (the VAE mid-block's single 512-wide head and the UNet's 64-wide heads
 * over thousands of tokens), where {@link FlashAttention}'s per-key-tile loop is several times slower. Short key
 * sequences (cross-attention over a few text tokens) and causal masks stay on {@link FlashAttention}. The scalar twin is
 * the same algorithm with the GEMM's scalar kernel and scalar exp.
 */
final class AttentionGemm {
    private AttentionGemm() {}

    private static final VectorSpecies<Float> S = CpuBackend.SPECIES;
    private static final int VL = S.length();
    static final int BQ = Math.max(Gemm.MR, Integer.getInteger("onestep.cpu.attnGemmBq", 48) / Gemm.MR * Gemm.MR);
    /** Minimum key count for the GEMM path ({@code -Donestep.cpu.attnGemmMinLk}, default 256). */
    static final int MIN_LK = Integer.getInteger("onestep.cpu.attnGemmMinLk", 256);
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    /** Whether this path takes the call (else {@link FlashAttention}). */
    static boolean applies(int lq, int lk, int d, int dv, boolean causal) {
        return !causal && lk >= MIN_LK && lq >= Gemm.MR && d >= 8 && dv >= 8;
    }

    private static final class Scratch {
        MemorySegment scores = MemorySegment.NULL;
        final float[] sum = new float[BQ];
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /** q [N, Lq, H·d], k [N, Lk, H·d], v [N, Lk, H·dv] → out [N, Lq, H·dv] (every element written). */
    static void run(MemorySegment q, MemorySegment k, MemorySegment v, MemorySegment out,
                    int n, int lq, int lk, int heads, int d, int dv, float scale, boolean vector) {
        int qc = heads * d, vc = heads * dv;
        int qTiles = (lq + BQ - 1) / BQ;
        int[][] dBlocks = Gemm.uniformKBlocks(d), lkBlocks = Gemm.uniformKBlocks(lk);
        for (int b = 0; b < n; b++) {
            for (int h = 0; h < heads; h++) {
                final int bb = b, hh = h;
                // B operands: Kᵀ as [K = d, N = Lk], V as [K = Lk, N = dv], on the heap: the micro-kernel reads them in place
                try (Gemm.Packed kt = Gemm.Packed.onHeap(d, lk, (kk, col) -> k.getAtIndex(F, ((long) bb * lk + col) * qc + (long) hh * d + kk));
                     Gemm.Packed vp = Gemm.Packed.onHeap(lk, dv, (kk, col) -> v.getAtIndex(F, ((long) bb * lk + kk) * vc + (long) hh * dv + col))) {
                    Parallel.parallelFor(qTiles, t -> {
                        int q0 = t * BQ, rows = Math.min(BQ, lq - q0);
                        Scratch s = SCRATCH.get();
                        long need = (long) BQ * lk * 4;
                        if (s.scores.byteSize() < need) s.scores = Arena.ofAuto().allocate(need, 64);
                        MemorySegment sc = s.scores;
                        long qRow0 = (long) bb * lq + q0;
                        Gemm.ASource qs = (m0, r, k0, kc, dst) -> {
                            for (int i = 0; i < r; i++)
                                MemorySegment.copy(q, F, ((qRow0 + m0 + i) * qc + (long) hh * d + k0) * 4, dst, i * kc, kc);
                        };
                        // the GEMMs run on this thread (parallel = false): the query tiles are the parallel loop, and
                        // a split of N into panel groups would pack the same A block once per group
                        Gemm.run(rows, kt, qs, dBlocks, sc, lk, 0, vector, false);          // S [rows, Lk] = Q·Kᵀ
                        for (int r = 0; r < rows; r++) s.sum[r] = expRow(sc, (long) r * lk, lk, scale, vector);
                        MemorySegment o = out.asSlice(qRow0 * vc * 4);
                        Gemm.run(rows, vp, Gemm.matrix(sc, lk), lkBlocks, o, vc, hh * dv, vector, false); // O = exp(S)·V
                        for (int r = 0; r < rows; r++) scale(o, (long) r * vc + (long) hh * dv, dv, 1f / s.sum[r], vector);
                    });
                }
            }
        }
    }

    /**
     * Row [off, off + len) of seg ← exp(scale · row − max(scale · row)), in place; returns the row's sum. The softmax's
     * division is left to the output row ({@link #scale}): dv values instead of Lk.
     */
    static float expRow(MemorySegment seg, long off, int len, float scale, boolean vector) {
        long base = off * 4;
        float max = Float.NEGATIVE_INFINITY;
        int j = 0;
        if (vector) {
            FloatVector m = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
            for (; j <= len - VL; j += VL) m = m.max(FloatVector.fromMemorySegment(S, seg, base + j * 4L, NATIVE).mul(scale));
            max = m.reduceLanes(VectorOperators.MAX);
        }
        for (; j < len; j++) max = Math.max(max, seg.getAtIndex(F, off + j) * scale);
        float sum = 0f;
        j = 0;
        if (vector) {
            FloatVector acc = FloatVector.zero(S);
            for (; j <= len - VL; j += VL) {
                FloatVector e = VecMath.exp(FloatVector.fromMemorySegment(S, seg, base + j * 4L, NATIVE).mul(scale).sub(max));
                e.intoMemorySegment(seg, base + j * 4L, NATIVE);
                acc = acc.add(e);
            }
            sum = VecMath.sum(acc);
        }
        for (; j < len; j++) {
            float e = VecMath.exp(seg.getAtIndex(F, off + j) * scale - max);
            seg.setAtIndex(F, off + j, e);
            sum += e;
        }
        return sum;
    }

    /** seg[off .. off + len) *= f. */
    static void scale(MemorySegment seg, long off, int len, float f, boolean vector) {
        long base = off * 4;
        int j = 0;
        if (vector)
            for (; j <= len - VL; j += VL)
                FloatVector.fromMemorySegment(S, seg, base + j * 4L, NATIVE).mul(f).intoMemorySegment(seg, base + j * 4L, NATIVE);
        for (; j < len; j++) seg.setAtIndex(F, off + j, seg.getAtIndex(F, off + j) * f);
    }
}
