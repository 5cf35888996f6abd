package dev.onestep.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Group and layer normalisation over channels-last tensors. Group-norm statistics take one pass (shifted sums and
 * sums of squares per chunk, merged with Chan's formula in a fixed order), with per-channel float partial sums over
 * short runs of positions flushed into double, so long images (96·96 positions) keep ~1e-7 relative accuracy.
 */
final class Norms {
    private Norms() {}

    private static final VectorSpecies<Float> S = CpuBackend.SPECIES;
    private static final int VL = S.length();
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    private static final int FLUSH = 64; // positions summed in float before flushing into double

    /**
     * x, y [N, P, C] (P = all middle dims). Two passes over memory: one for the statistics, one to normalise.
     *
     * <p>Statistics: each (batch, chunk of positions) task accumulates per-channel Σ d and Σ d² of d = x − shift, with
     * shift = the channel's value at the chunk's first position (so the sums stay small relative to the spread and
     * Σ d² − (Σ d)²/n does not cancel), float partials over runs of {@link #FLUSH} positions flushed into double. The
     * (chunk, channel) partials of a group are then merged in a fixed order (chunks outer, channels inner) with Chan's
     * parallel-variance formula in double, so the result does not depend on thread timing.
     */
    static void groupNorm(MemorySegment x, MemorySegment y, int n, long p, int c, int groups, float[] gamma, float[] beta,
                          float eps, boolean silu, boolean vector) {
        int cg = c / groups;
        long chunk = Math.max(FLUSH, (p + 4L * Parallel.THREADS - 1) / (4L * Parallel.THREADS));
        int chunks = (int) ((p + chunk - 1) / chunk);
        double[][] partial = new double[n * chunks][];
        // pass 1: per-channel shifted Σ d, Σ d²
        Parallel.parallelFor(n * chunks, t -> {
            int b = t / chunks;
            long p0 = (t % chunks) * chunk, p1 = Math.min(p, p0 + chunk);
            partial[t] = channelMoments(x, ((long) b * p) * c, p0, p1, c, vector);
        });
        float[] meanC = new float[n * c];
        float[] scaleC = new float[n * c];
        for (int b = 0; b < n; b++)
            for (int g = 0; g < groups; g++) {
                double cnt = 0, mean = 0, m2 = 0;
                for (int k = 0; k < chunks; k++) {
                    double[] pt = partial[b * chunks + k];
                    long p0 = (long) k * chunk;
                    double nk = Math.min(p, p0 + chunk) - p0;
                    for (int j = g * cg; j < (g + 1) * cg; j++) {
                        double sd = pt[c + j], sq = pt[2 * c + j];
                        double mk = pt[j] + sd / nk, m2k = Math.max(0.0, sq - sd * sd / nk);
                        double tot = cnt + nk, delta = mk - mean;
                        mean += delta * (nk / tot);
                        m2 += m2k + delta * delta * (cnt * nk / tot);
                        cnt = tot;
                    }
                }
                double rstd = 1.0 / Math.sqrt(m2 / cnt + eps);
                for (int j = g * cg; j < (g + 1) * cg; j++) {
                    meanC[b * c + j] = (float) mean;
                    scaleC[b * c + j] = (float) (rstd * gamma[j]);
                }
            }
        // pass 2: y = (x − mean)·(rstd·gamma) + beta, then SiLU
        Parallel.parallelFor(n * chunks, t -> {
            int b = t / chunks;
            long p0 = (t % chunks) * chunk, p1 = Math.min(p, p0 + chunk);
            float[] mc = java.util.Arrays.copyOfRange(meanC, b * c, b * c + c);
            float[] sc = java.util.Arrays.copyOfRange(scaleC, b * c, b * c + c);
            long base = (long) b * p * c;
            for (long pos = p0; pos < p1; pos++) normalizeRow(x, y, (base + pos * c) * 4, c, mc, sc, beta, silu, vector);
        });
    }

    /**
     * Over positions [p0, p1) (p1 > p0) starting at element base, per channel j: out[j] = shift (x at p0),
     * out[c + j] = Σ (x − shift), out[2c + j] = Σ (x − shift)².
     */
    private static double[] channelMoments(MemorySegment x, long base, long p0, long p1, int c, boolean vector) {
        double[] out = new double[3 * c];
        float[] shift = new float[c], s1 = new float[c], s2 = new float[c];
        MemorySegment.copy(x, F, (base + p0 * c) * 4, shift, 0, c);
        for (int j = 0; j < c; j++) out[j] = shift[j];
        int vEnd = vector ? c / VL * VL : 0;
        for (long pos = p0; pos < p1; pos++) {
            long off = (base + pos * c) * 4;
            int j = 0;
            for (; j < vEnd; j += VL) {
                FloatVector d = FloatVector.fromMemorySegment(S, x, off + j * 4L, NATIVE).sub(FloatVector.fromArray(S, shift, j));
                FloatVector.fromArray(S, s1, j).add(d).intoArray(s1, j);
                d.fma(d, FloatVector.fromArray(S, s2, j)).intoArray(s2, j);
            }
            for (; j < c; j++) {
                float d = x.get(F, off + j * 4L) - shift[j];
                s1[j] += d;
                s2[j] = Math.fma(d, d, s2[j]);
            }
            if ((pos - p0) % FLUSH == FLUSH - 1 || pos == p1 - 1) {
                for (int k = 0; k < c; k++) {
                    out[c + k] += s1[k];
                    out[2 * c + k] += s2[k];
                    s1[k] = 0f;
                    s2[k] = 0f;
                }
            }
        }
        return out;
    }

    private static void normalizeRow(MemorySegment x, MemorySegment y, long off, int c, float[] mean, float[] scale,
                                     float[] beta, boolean silu, boolean vector) {
        int j = 0;
        if (vector) {
            for (; j + VL <= c; j += VL) {
                FloatVector v = FloatVector.fromMemorySegment(S, x, off + j * 4L, NATIVE);
                v = v.sub(FloatVector.fromArray(S, mean, j)).fma(FloatVector.fromArray(S, scale, j), FloatVector.fromArray(S, beta, j));
                if (silu) v = Elementwise.siluVector(v);
                v.intoMemorySegment(y, off + j * 4L, NATIVE);
            }
        }
        for (; j < c; j++) {
            float v = Math.fma(x.get(F, off + j * 4L) - mean[j], scale[j], beta[j]);
            y.set(F, off + j * 4L, silu ? CpuMath.siluF(v) : v);
        }
    }

    /** Layer norm over the last dimension: x, y [R, C]. */
    static void layerNorm(MemorySegment x, MemorySegment y, long rows, int c, float[] gamma, float[] beta, float eps, boolean vector) {
        Parallel.parallelRange(rows, 16, (r0, r1) -> {
            float[] mean = new float[c], scale = new float[c];
            for (long r = r0; r < r1; r++) {
                long off = r * c * 4;
                double mu = rowSum(x, off, c, Float.NaN, vector) / c;
                double var = rowSum(x, off, c, (float) mu, vector) / c;
                float rstd = (float) (1.0 / Math.sqrt(var + eps));
                java.util.Arrays.fill(mean, (float) mu);
                for (int j = 0; j < c; j++) scale[j] = rstd * gamma[j];
                normalizeRow(x, y, off, c, mean, scale, beta, false, vector);
            }
        });
    }

    /** Σ x over one row, or Σ (x − mu)² when mu is not NaN. */
    private static double rowSum(MemorySegment x, long off, int c, float mu, boolean vector) {
        boolean sq = !Float.isNaN(mu);
        double total = 0;
        int j = 0;
        if (vector) {
            FloatVector acc = FloatVector.zero(S), m = FloatVector.broadcast(S, sq ? mu : 0f);
            for (; j + VL <= c; j += VL) {
                FloatVector v = FloatVector.fromMemorySegment(S, x, off + j * 4L, NATIVE);
                if (sq) {
                    v = v.sub(m);
                    acc = v.fma(v, acc);
                } else {
                    acc = acc.add(v);
                }
            }
            total = VecMath.sum(acc);
        }
        for (; j < c; j++) {
            float v = x.get(F, off + j * 4L);
            if (sq) {
                v -= mu;
                v *= v;
            }
            total += v;
        }
        return total;
    }
}
