package dev.onestep.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Attention over a handful of keys (the UNet's cross-attention to a short text context): per query row and head,
 * the Lk scores as dot products over d (vectorised along d, lanes summed in a fixed order by {@link VecMath#sum}),
 * an exact softmax over them, then O = Σ_j p_j·V_j (vectorised along dv). No padding of the keys to vector tiles
 * (which {@link FlashAttention} needs: 2 keys padded to 32 is 16× the work) and no K/V repacking.
 */
final class ShortAttention {
    private ShortAttention() {}

    private static final VectorSpecies<Float> S = CpuBackend.SPECIES;
    private static final int VL = S.length();
    /** Longest key sequence this path takes ({@code -Donestep.cpu.attnShortLk}, default 16). */
    static final int MAX_LK = Integer.getInteger("onestep.cpu.attnShortLk", 16);
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    private static final int ROWS_PER_TASK = 32;

    static boolean applies(int lk) {
        return lk >= 1 && lk <= MAX_LK;
    }

    /** q [N, Lq, H·d], k [N, Lk, H·d], v [N, Lk, H·dv] → out [N, Lq, H·dv] (every element written). */
    static void run(MemorySegment q, MemorySegment k, MemorySegment v, MemorySegment out,
                    int n, int lq, int lk, int heads, int d, int dv, float scale, boolean causal, boolean vector) {
        int qc = heads * d, vc = heads * dv;
        int tilesPerBatch = (lq + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
        Parallel.parallelFor(n * tilesPerBatch, task -> {
            int b = task / tilesPerBatch, i0 = (task % tilesPerBatch) * ROWS_PER_TASK, i1 = Math.min(lq, i0 + ROWS_PER_TASK);
            float[] kb = new float[lk * qc], vb = new float[lk * vc];
            MemorySegment.copy(k, F, (long) b * lk * qc * 4, kb, 0, lk * qc);
            MemorySegment.copy(v, F, (long) b * lk * vc * 4, vb, 0, lk * vc);
            float[] qr = new float[qc], o = new float[vc], p = new float[lk];
            for (int i = i0; i < i1; i++) {
                MemorySegment.copy(q, F, ((long) b * lq + i) * qc * 4, qr, 0, qc);
                int limit = causal ? Math.min(lk, i + 1) : lk; // keys [0, limit) visible
                for (int h = 0; h < heads; h++) {
                    int qo = h * d, oo = h * dv;
                    if (limit <= 0) {
                        java.util.Arrays.fill(o, oo, oo + dv, 0f);
                        continue;
                    }
                    float mx = Float.NEGATIVE_INFINITY;
                    for (int j = 0; j < limit; j++) {
                        float s = (vector ? dotVector(qr, qo, kb, j * qc + qo, d) : dotScalar(qr, qo, kb, j * qc + qo, d)) * scale;
                        p[j] = s;
                        mx = Math.max(mx, s);
                    }
                    float sum = 0f;
                    for (int j = 0; j < limit; j++) {
                        float e = VecMath.exp(p[j] - mx);
                        p[j] = e;
                        sum += e;
                    }
                    float inv = 1f / sum;
                    for (int j = 0; j < limit; j++) p[j] *= inv;
                    if (vector) weightedVector(p, limit, vb, vc, oo, dv, o);
                    else weightedScalar(p, limit, vb, vc, oo, dv, o);
                }
                MemorySegment.copy(o, 0, out, F, ((long) b * lq + i) * vc * 4, vc);
            }
        });
    }

    private static float dotVector(float[] a, int aOff, float[] b, int bOff, int d) {
        int c = 0;
        float s = 0f;
        if (d >= VL) {
            FloatVector acc = FloatVector.zero(S);
            for (; c + VL <= d; c += VL)
                acc = FloatVector.fromArray(S, a, aOff + c).fma(FloatVector.fromArray(S, b, bOff + c), acc);
            s = VecMath.sum(acc);
        }
        for (; c < d; c++) s = Math.fma(a[aOff + c], b[bOff + c], s);
        return s;
    }

    private static float dotScalar(float[] a, int aOff, float[] b, int bOff, int d) {
        float s = 0f;
        for (int c = 0; c < d; c++) s = Math.fma(a[aOff + c], b[bOff + c], s);
        return s;
    }

    /** o[oo .. oo + dv) = Σ_j p[j] · v[j·vc + oo ..]. */
    private static void weightedVector(float[] p, int keys, float[] v, int vc, int oo, int dv, float[] o) {
        int c = 0;
        for (; c + VL <= dv; c += VL) {
            FloatVector acc = FloatVector.zero(S);
            for (int j = 0; j < keys; j++)
                acc = FloatVector.fromArray(S, v, j * vc + oo + c).fma(FloatVector.broadcast(S, p[j]), acc);
            acc.intoArray(o, oo + c);
        }
        for (; c < dv; c++) {
            float acc = 0f;
            for (int j = 0; j < keys; j++) acc = Math.fma(v[j * vc + oo + c], p[j], acc);
            o[oo + c] = acc;
        }
    }

    private static void weightedScalar(float[] p, int keys, float[] v, int vc, int oo, int dv, float[] o) {
        for (int c = 0; c < dv; c++) {
            float acc = 0f;
            for (int j = 0; j < keys; j++) acc = Math.fma(v[j * vc + oo + c], p[j], acc);
            o[oo + c] = acc;
        }
    }
}
