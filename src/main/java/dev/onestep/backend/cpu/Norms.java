package dev.onestep.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Group and layer normalisation over channels-last tensors. Statistics are two-pass (mean, then Σ(x − mean)²)
 * with per-channel float partial sums over short runs of positions flushed into double, so long images
 * (96·96 positions) keep ~1e-7 relative accuracy.
 */
final class Norms {
    private Norms() {}

    private static final VectorSpecies<Float> S = CpuBackend.SPECIES;
    private static final int VL = S.length();
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    private static final int FLUSH = 64; // positions summed in float before flushing into double

    /** x, y [N, P, C] (P = all middle dims). */
    static void groupNorm(MemorySegment x, MemorySegment y, int n, long p, int c, int groups, float[] gamma, float[] beta,
                          float eps, boolean silu, boolean vector) {
        int cg = c / groups;
        long chunk = Math.max(FLUSH, (p + 4L * Parallel.THREADS - 1) / (4L * Parallel.THREADS));
        int chunks = (int) ((p + chunk - 1) / chunk);
        double[][] partial = new double[n * chunks][];
        // pass 1: per-channel sums
        Parallel.parallelFor(n * chunks, t -> {
            int b = t / chunks;
            long p0 = (t % chunks) * chunk, p1 = Math.min(p, p0 + chunk);
            partial[t] = channelSums(x, ((long) b * p) * c, p0, p1, c, null, vector);
        });
        float[] meanC = new float[n * c];
        double[] mean = new double[n * groups];
        for (int b = 0; b < n; b++)
            for (int g = 0; g < groups; g++) {
                double s = 0;
                for (int k = 0; k < chunks; k++) for (int j = 0; j < cg; j++) s += partial[b * chunks + k][g * cg + j];
                mean[b * groups + g] = s / ((double) p * cg);
                for (int j = 0; j < cg; j++) meanC[b * c + g * cg + j] = (float) mean[b * groups + g];
            }
        // pass 2: per-channel Σ(x − mean)²
        Parallel.parallelFor(n * chunks, t -> {
            int b = t / chunks;
            long p0 = (t % chunks) * chunk, p1 = Math.min(p, p0 + chunk);
            float[] mc = java.util.Arrays.copyOfRange(meanC, b * c, b * c + c);
            partial[t] = channelSums(x, ((long) b * p) * c, p0, p1, c, mc, vector);
        });
        float[] scaleC = new float[n * c];
        for (int b = 0; b < n; b++)
            for (int g = 0; g < groups; g++) {
                double s = 0;
                for (int k = 0; k < chunks; k++) for (int j = 0; j < cg; j++) s += partial[b * chunks + k][g * cg + j];
                double rstd = 1.0 / Math.sqrt(s / ((double) p * cg) + eps);
                for (int j = 0; j < cg; j++) scaleC[b * c + g * cg + j] = (float) (rstd * gamma[g * cg + j]);
            }
        // pass 3: y = (x − mean)·(rstd·gamma) + beta, then SiLU
        Parallel.parallelFor(n * chunks, t -> {
            int b = t / chunks;
            long p0 = (t % chunks) * chunk, p1 = Math.min(p, p0 + chunk);
            float[] mc = java.util.Arrays.copyOfRange(meanC, b * c, b * c + c);
            float[] sc = java.util.Arrays.copyOfRange(scaleC, b * c, b * c + c);
            long base = (long) b * p * c;
            for (long pos = p0; pos < p1; pos++) normalizeRow(x, y, (base + pos * c) * 4, c, mc, sc, beta, silu, vector);
        });
    }

    /** Per-channel Σ x (or Σ (x − mean)² when mean != null) over positions [p0, p1) starting at element base. */
    private static double[] channelSums(MemorySegment x, long base, long p0, long p1, int c, float[] mean, boolean vector) {
        double[] sum = new double[c];
        float[] acc = new float[c];
        int vEnd = vector ? c / VL * VL : 0;
        for (long pos = p0; pos < p1; pos++) {
            long off = (base + pos * c) * 4;
            int j = 0;
            for (; j < vEnd; j += VL) {
                FloatVector v = FloatVector.fromMemorySegment(S, x, off + j * 4L, NATIVE);
                if (mean != null) {
                    v = v.sub(FloatVector.fromArray(S, mean, j));
                    v = v.mul(v);
                }
                FloatVector.fromArray(S, acc, j).add(v).intoArray(acc, j);
            }
            for (; j < c; j++) {
                float v = x.get(F, off + j * 4L);
                if (mean != null) {
                    v -= mean[j];
                    v *= v;
                }
                acc[j] += v;
            }
            if ((pos - p0) % FLUSH == FLUSH - 1 || pos == p1 - 1) {
                for (int k = 0; k < c; k++) {
                    sum[k] += acc[k];
                    acc[k] = 0f;
                }
            }
        }
        return sum;
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
