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
 * S = Q·Kᵀ (K packed once per head as the B operand), an exact row softmax of scale·S in place, then O = P·V written
 * straight into the head's output columns. The score block is BQ × Lk floats per thread (off-heap;
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
        float[] row = new float[0];
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
                // B operands: Kᵀ as [K = d, N = Lk], V as [K = Lk, N = dv]
                try (Gemm.Packed kt = Gemm.Packed.of(d, lk, (kk, col) -> k.getAtIndex(F, ((long) bb * lk + col) * qc + (long) hh * d + kk), null);
                     Gemm.Packed vp = Gemm.Packed.of(lk, dv, (kk, col) -> v.getAtIndex(F, ((long) bb * lk + kk) * vc + (long) hh * dv + col), null)) {
                    Parallel.parallelFor(qTiles, t -> {
                        int q0 = t * BQ, rows = Math.min(BQ, lq - q0);
                        Scratch s = SCRATCH.get();
                        long need = (long) BQ * lk * 4;
                        if (s.scores.byteSize() < need) s.scores = Arena.ofAuto().allocate(need, 64);
                        if (s.row.length < lk) s.row = new float[lk];
                        MemorySegment sc = s.scores;
                        long qRow0 = (long) bb * lq + q0;
                        Gemm.ASource qs = (m0, r, k0, kc, dst) -> {
                            for (int i = 0; i < r; i++)
                                MemorySegment.copy(q, F, ((qRow0 + m0 + i) * qc + (long) hh * d + k0) * 4, dst, i * kc, kc);
                        };
                        Gemm.run(rows, kt, qs, dBlocks, sc, lk, 0, vector);
                        for (int r = 0; r < rows; r++) softmaxRow(sc, (long) r * lk, lk, scale, s.row, vector);
                        MemorySegment o = out.asSlice(qRow0 * vc * 4);
                        Gemm.run(rows, vp, Gemm.matrix(sc, lk), lkBlocks, o, vc, hh * dv, vector);
                    });
                }
            }
        }
    }

    /** Row [off, off + len) of seg ← softmax(scale · row), fp32, max-subtracted. */
    static void softmaxRow(MemorySegment seg, long off, int len, float scale, float[] row, boolean vector) {
        MemorySegment.copy(seg, F, off * 4, row, 0, len);
        float max = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < len; j++) max = Math.max(max, row[j] * scale);
        float sum = 0f;
        int j = 0;
        if (vector) {
            FloatVector acc = FloatVector.zero(S);
            for (; j <= len - VL; j += VL) {
                FloatVector e = FloatVector.fromArray(S, row, j).mul(scale).sub(max);
                e = VecMath.exp(e);
                e.intoArray(row, j);
                acc = acc.add(e);
            }
            sum = VecMath.sum(acc);
        }
        for (; j < len; j++) {
            float e = VecMath.exp(row[j] * scale - max);
            row[j] = e;
            sum += e;
        }
        float inv = 1f / sum;
        j = 0;
        if (vector) for (; j <= len - VL; j += VL) FloatVector.fromArray(S, row, j).mul(inv).intoArray(row, j);
        for (; j < len; j++) row[j] *= inv;
        MemorySegment.copy(row, 0, seg, F, off * 4, len);
    }
}
