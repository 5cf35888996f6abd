package dev.onestep.backend.cpu;

import dev.onestep.backend.Padding;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * 3×3 stride-1 NHWC convolutions by Winograd's minimal filtering F(4×4, 3×3) (Lavin &amp; Gray, "Fast Algorithms for
 * Convolutional Neural Networks", 2016), interpolation points 0, ±1, ±2, ∞: each 4 × 4 output tile is
 * Y = Aᵀ [ Σ_ci (G g Gᵀ) ⊙ (Bᵀ d B) ] A over the 6 × 6 input window d, so the channel sums are 36 independent GEMMs
 * of K = C_in (one per window position) doing 36 multiplies per tile and channel pair where the direct convolution
 * does 144: 4× fewer FLOPs, paid for with transforms that are O(C) per tile against the GEMMs' O(C²).
 *
 * <p>Per call: the weights are transformed once into 36 F32 panel sets U[pos] = (G g Gᵀ)[pos] in {@link Gemm}'s
 * [panel][C_in][NR] layout, read in place by the GEMM (not stored per layer: 36·C_in·C_out floats, 4× an F32 copy of
 * the weights; widened from F16/BF16 exactly; the arrays of two sets are reused between calls). Then, parallel over
 * blocks of tiles, each thread
 * <ol>
 *   <li>gathers each tile's 6 × 6 window one channel vector at a time (zeros in the padding; nearest up-sampling maps
 *       resolved here, as in {@link ConvGemm}) and writes V = Bᵀ d B into V[pos][tile][C_in];
 *   <li>runs the 36 GEMMs M[tile][pos][C_out] = V[pos] · U[pos] ({@link Gemm#run}, on this thread);
 *   <li>writes Y = Aᵀ M A + bias into the output, cropped at the image's edge.
 * </ol>
 *
 * <p>Accuracy: the transforms' coefficients (up to 8, fractions of 1/6 and 1/24) cost precision: on O(1) outputs
 * with K = 9·512 the fp32 error is ≈ 1e-5 against ≈ 1e-6 for the direct sum (numpy model in docs/PERF.md, "Winograd convolutions"),
 * inside the fixtures' 1e-4. {@code -Donestep.cpu.winograd=false} turns it off. The scalar twin ({@code vector =
 * false}) applies the matrices by their definition; results do not depend on thread timing (one task per tile block,
 * fixed order everywhere).
 */
final class ConvWinograd {
    private ConvWinograd() {}

    static final VectorSpecies<Float> S = CpuBackend.SPECIES;
    private static final int VL = S.length();
    private static final int NR = Gemm.NR;
    /** Output tile side m, window side α = m + 2, window positions α². */
    static final int M = 4, A = 6, P = A * A;
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    /** {@code -Donestep.cpu.winograd=false} sends every 3×3 conv to the implicit GEMM. */
    static final boolean ON = Boolean.parseBoolean(System.getProperty("onestep.cpu.winograd", "true"));
    /**
     * Fewest 4 × 4 tiles per call: {@code -Donestep.cpu.winogradMinTiles} (default 32). The per-call weight transform
     * writes 36·C_in·C_out floats (≈ 12 ms at 640 × 640 channels on 2 Zen 3 cores), which ≈ 20 tiles' GEMM savings
     * repay; 48 tiles of 640 channels measured 1.5× faster than the implicit GEMM, 192 tiles 2.2×.
     */
    static final int MIN_TILES = Integer.getInteger("onestep.cpu.winogradMinTiles", 32);
    /**
     * Tiles per block (a multiple of 4): {@code -Donestep.cpu.winogradTiles} (default 64; 32 and 128 measured within
     * ±5 %, results bit-identical whatever the block size).
     */
    static final int TILES = Math.max(4, Integer.getInteger("onestep.cpu.winogradTiles", 64) / 4 * 4);
    /** Largest transformed weight set, 36·C_in·C_out·4 bytes, built per call: {@code -Donestep.cpu.winogradMaxMiB} (64). */
    static final long MAX_U_BYTES = (long) Integer.getInteger("onestep.cpu.winogradMaxMiB", 64) << 20;

    /** Largest per-thread V or M block, floats (16 MB): 64 tiles up to 1 820 channels. */
    private static final int SCRATCH_FLOATS = 1 << 22;

    /** Bᵀ (6 × 6), G (6 × 3), Aᵀ (4 × 6) for the points 0, 1, −1, 2, −2, ∞: the scalar twin's definition. */
    static final float[][] BT = {
            {4, 0, -5, 0, 1, 0},
            {0, -4, -4, 1, 1, 0},
            {0, 4, -4, -1, 1, 0},
            {0, -2, -1, 2, 1, 0},
            {0, 2, -1, -2, 1, 0},
            {0, 4, 0, -5, 0, 1}};
    static final float[][] G = {
            {1 / 4f, 0, 0},
            {-1 / 6f, -1 / 6f, -1 / 6f},
            {-1 / 6f, 1 / 6f, -1 / 6f},
            {1 / 24f, 1 / 12f, 1 / 6f},
            {1 / 24f, -1 / 12f, 1 / 6f},
            {0, 0, 1}};
    static final float[][] AT = {
            {1, 1, 1, 1, 1, 0},
            {0, 1, -1, 2, -2, 0},
            {0, 1, 1, 4, 4, 0},
            {0, 1, -1, 8, -8, 1}};

    /** Whether a conv of this shape runs here: 3×3, stride 1, enough tiles, a transformed weight set within the cap. */
    static boolean applies(int kh, int kw, int stride, int ci, int co, int n, int oh, int ow) {
        if (!ON || kh != 3 || kw != 3 || stride != 1) return false;
        long tiles = (long) n * ((oh + M - 1) / M) * ((ow + M - 1) / M);
        return tiles >= MIN_TILES && (long) P * ci * co * 4 <= MAX_U_BYTES;
    }

    private static final class Scratch {
        float[] v = new float[0];
        MemorySegment m = MemorySegment.NULL; // off-heap: the GEMM's vector write-back is intrinsified only there
        float[] taps = new float[0];
        final float[] win = new float[P * VL], tmp = new float[P * VL], out = new float[M * M * VL];
        final float[] sw = new float[P], st = new float[P], so = new float[M * M]; // scalar twin's window, rows, tile
        final long[] rowPix = new long[A]; // a tile's window rows and columns in the input, −1 in the padding
        final int[] colPix = new int[A];
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /**
     * y [N, OH, OW, O] = conv3×3(x) (stride 1) with the conv's packed weights [9·I, O] (+ bias), over a virtual input of
     * h × w pixels read through the nearest up-sampling maps when they are not null (see {@link ConvGemm#run}).
     */
    static void run(MemorySegment x, int n, int h, int w, int ci, int[] rowMap, int[] colMap, Padding pad,
                    Gemm.Packed weights, MemorySegment y, int oh, int ow, boolean vector) {
        run(x, n, h, w, ci, rowMap, colMap, pad, weights, y, oh, ow, vector, TILES);
    }

    /** The same with at most {@code maxTiles} tiles per block. */
    static void run(MemorySegment x, int n, int h, int w, int ci, int[] rowMap, int[] colMap, Padding pad,
                    Gemm.Packed weights, MemorySegment y, int oh, int ow, boolean vector, int maxTiles) {
        int co = weights.n;
        boolean mapped = rowMap != null;
        int srcH = mapped ? rowMap[h - 1] + 1 : h, srcW = mapped ? colMap[w - 1] + 1 : w;
        int th = (oh + M - 1) / M, tw = (ow + M - 1) / M;
        int tiles = n * th * tw;
        int ciP = (ci + VL - 1) / VL * VL, coP = (co + VL - 1) / VL * VL;
        // at least two blocks per thread; per-thread V and M blocks of at most SCRATCH_FLOATS (wide channels: fewer tiles)
        int perThreads = Math.min(maxTiles, Math.max(4, ((tiles + 2 * Parallel.THREADS - 1) / (2 * Parallel.THREADS) + 3) / 4 * 4));
        int tb = Math.max(4, Math.min(perThreads, SCRATCH_FLOATS / (P * Math.max(ciP, coP)) / 4 * 4));
        int blocks = (tiles + tb - 1) / tb;
        float[][] uSet = takeU(weights.panels * ci * NR);
        Gemm.Packed[] u = transformWeights(weights, ci, vector, uSet);
        int[][] kBlocks = Gemm.uniformKBlocks(ci);
        float[] bias = weights.bias;
        Parallel.parallelFor(blocks, blk -> {
            Scratch s = SCRATCH.get();
            if (s.v.length < P * tb * ciP) s.v = new float[P * tb * ciP];
            if (s.m.byteSize() < (long) tb * P * coP * 4) s.m = java.lang.foreign.Arena.ofAuto().allocate((long) tb * P * coP * 4, 64);
            float[] v = s.v;
            int t0 = blk * tb, cnt = Math.min(tb, tiles - t0);
            long[] rowPix = s.rowPix;
            int[] colPix = s.colPix;
            for (int q = 0; q < cnt; q++) {
                int t = t0 + q, b = t / (th * tw), ty = t % (th * tw) / tw, tx = t % tw;
                for (int r = 0; r < A; r++) {
                    int iy = ty * M - pad.top() + r;
                    rowPix[r] = iy < 0 || iy >= h ? -1 : ((long) b * srcH + (mapped ? rowMap[iy] : iy)) * srcW;
                    int ix = tx * M - pad.left() + r;
                    colPix[r] = ix < 0 || ix >= w ? -1 : mapped ? colMap[ix] : ix;
                }
                if (vector) inputVector(x, ci, rowPix, colPix, s, v, q * ciP, tb * ciP);
                else inputScalar(x, ci, rowPix, colPix, s, v, q * ciP, tb * ciP);
            }
            for (int pos = 0; pos < P; pos++) {
                int vBase = pos * tb * ciP;
                Gemm.ASource src = (m0, rows, k0, kc, dst) -> {
                    for (int r = 0; r < rows; r++) System.arraycopy(v, vBase + (m0 + r) * ciP + k0, dst, r * kc, kc);
                };
                Gemm.run(cnt, u[pos], src, kBlocks, s.m, P * coP, pos * coP, vector, false);
            }
            for (int q = 0; q < cnt; q++) {
                int t = t0 + q, b = t / (th * tw), ty = t % (th * tw) / tw, tx = t % tw;
                int rows = Math.min(M, oh - ty * M), cols = Math.min(M, ow - tx * M);
                long yBase = (((long) b * oh + ty * M) * ow + tx * M) * co;
                if (vector) outputVector(s.m, q * P * coP, coP, co, bias, s, y, yBase, ow, rows, cols);
                else outputScalar(s.m, q * P * coP, coP, co, bias, s, y, yBase, ow, rows, cols);
            }
        });
        giveU(uSet);
    }

    /**
     * Transformed weight sets kept between calls, so a call does not allocate (and the JVM zero) 36·C_in·C_out floats:
     * at most {@link #KEPT_U} sets, the largest ones; {@link #trim} drops them.
     */
    private static final java.util.ArrayDeque<float[][]> IDLE_U = new java.util.ArrayDeque<>();
    private static final int KEPT_U = 2;

    /** A set of 36 arrays of at least {@code len} floats each (contents undefined). */
    static float[][] takeU(int len) {
        synchronized (IDLE_U) {
            for (java.util.Iterator<float[][]> it = IDLE_U.iterator(); it.hasNext(); ) {
                float[][] u = it.next();
                if (u[0].length >= len) {
                    it.remove();
                    return u;
                }
            }
        }
        return new float[P][len];
    }

    static void giveU(float[][] u) {
        synchronized (IDLE_U) {
            IDLE_U.addFirst(u);
            if (IDLE_U.size() > KEPT_U) { // drop the smallest
                float[][] smallest = null;
                for (float[][] v : IDLE_U) if (smallest == null || v[0].length < smallest[0].length) smallest = v;
                IDLE_U.remove(smallest);
            }
        }
    }

    /** Drops the kept transformed weight sets ({@link CpuBackend#trimMemory}). */
    static void trim() {
        synchronized (IDLE_U) { IDLE_U.clear(); }
    }

    // ---------------------------------------------------------------- weights: U[pos] = (G g Gᵀ)[pos]

    /**
     * The 36 transformed weight sets as heap panels [panel][C_in][NR] (F32, no bias) written into {@code u} (36 arrays of
     * at least panels·C_in·NR floats), one task per panel.
     */
    static Gemm.Packed[] transformWeights(Gemm.Packed wts, int ci, boolean vector, float[][] u) {
        int co = wts.n, panels = wts.panels;
        if (wts.k != 9 * ci) throw new IllegalArgumentException("Winograd: packed weights have K = " + wts.k + ", expected 9·" + ci);
        Parallel.parallelFor(panels, p -> {
            Scratch s = SCRATCH.get();
            if (s.taps.length < 9 * ci * NR) s.taps = new float[9 * ci * NR];
            float[] g = s.taps; // g[(tap·ci + c)·NR + lane], tap = ky·3 + kx
            Gemm.widen(wts, p, 0, 9 * ci, g, vector);
            for (int c = 0; c < ci; c++) {
                int dst = (p * ci + c) * NR;
                if (vector) {
                    for (int half = 0; half < NR; half += VL) {
                        int src = c * NR + half, tapStride = ci * NR;
                        for (int a = 0; a < 3; a++) gt(g, src + 3 * a * tapStride, tapStride, s.tmp, a * A * VL, VL, null, 0); // along kx
                        for (int j = 0; j < A; j++) gt(s.tmp, j * VL, A * VL, null, j, 0, u, dst + half);                // along ky
                    }
                } else {
                    for (int lane = 0; lane < NR; lane++)
                        for (int i = 0; i < A; i++)
                            for (int j = 0; j < A; j++) {
                                float acc = 0;
                                for (int a = 0; a < 3; a++) {
                                    float row = 0;
                                    for (int bb = 0; bb < 3; bb++) row = Math.fma(g[((a * 3 + bb) * ci + c) * NR + lane], G[j][bb], row);
                                    acc = Math.fma(G[i][a], row, acc);
                                }
                                u[i * A + j][dst + lane] = acc;
                            }
                }
            }
        });
        Gemm.Packed[] out = new Gemm.Packed[P];
        for (int pos = 0; pos < P; pos++) out[pos] = Gemm.Packed.heapPanels(ci, co, u[pos]);
        return out;
    }

    private static final FloatVector QUARTER = FloatVector.broadcast(S, 0.25f), SIXTH = FloatVector.broadcast(S, -1 / 6f),
            N24 = FloatVector.broadcast(S, 1 / 24f), N12 = FloatVector.broadcast(S, 1 / 12f), P6 = FloatVector.broadcast(S, 1 / 6f);

    /**
     * r[k] = (G · (src[so], src[so + ss], src[so + 2·ss]))[k], k &lt; 6, one vector each, stored at dst[d + k·ds], or,
     * when dst is null, at u[d + 6·k][uOff] (the column pass: row k of the 6 × 6 result is window position 6·k + d).
     */
    private static void gt(float[] src, int so, int ss, float[] dst, int d, int ds, float[][] u, int uOff) {
        FloatVector g0 = FloatVector.fromArray(S, src, so), g1 = FloatVector.fromArray(S, src, so + ss),
                g2 = FloatVector.fromArray(S, src, so + 2 * ss);
        FloatVector even = g0.add(g2);
        FloatVector e = g0.fma(N24, g2.mul(P6)), o = g1.mul(N12);
        FloatVector r0 = g0.mul(QUARTER), r1 = even.add(g1).mul(SIXTH), r2 = even.sub(g1).mul(SIXTH), r3 = e.add(o), r4 = e.sub(o);
        if (dst != null) {
            r0.intoArray(dst, d);
            r1.intoArray(dst, d + ds);
            r2.intoArray(dst, d + 2 * ds);
            r3.intoArray(dst, d + 3 * ds);
            r4.intoArray(dst, d + 4 * ds);
            g2.intoArray(dst, d + 5 * ds);
        } else {
            r0.intoArray(u[d], uOff);
            r1.intoArray(u[d + A], uOff);
            r2.intoArray(u[d + 2 * A], uOff);
            r3.intoArray(u[d + 3 * A], uOff);
            r4.intoArray(u[d + 4 * A], uOff);
            g2.intoArray(u[d + 5 * A], uOff);
        }
    }

    // ---------------------------------------------------------------- input: V = Bᵀ d B

    private static final FloatVector C4 = FloatVector.broadcast(S, 4f), CM4 = FloatVector.broadcast(S, -4f),
            CM5 = FloatVector.broadcast(S, -5f), C2 = FloatVector.broadcast(S, 2f), CM2 = FloatVector.broadcast(S, -2f),
            C8 = FloatVector.broadcast(S, 8f);

    /** One tile: V[pos][q][c] for every channel vector, pos = i·6 + j at v[vOff + pos·posStride + c]. */
    private static void inputVector(MemorySegment x, int ci, long[] rowPix, int[] colPix, Scratch s, float[] v, int vOff,
                                    int posStride) {
        float[] win = s.win, tmp = s.tmp;
        FloatVector zero = FloatVector.zero(S);
        for (int c0 = 0; c0 < ci; c0 += VL) {
            boolean full = c0 + VL <= ci;
            VectorMask<Float> mask = full ? null : S.indexInRange(c0, ci);
            for (int r = 0; r < A; r++)
                for (int c = 0; c < A; c++) {
                    FloatVector d = zero;
                    if (rowPix[r] >= 0 && colPix[c] >= 0) {
                        long off = ((rowPix[r] + colPix[c]) * ci + c0) * 4L;
                        d = full ? FloatVector.fromMemorySegment(S, x, off, NATIVE) : FloatVector.fromMemorySegment(S, x, off, NATIVE, mask);
                    }
                    d.intoArray(win, (r * A + c) * VL);
                }
            for (int r = 0; r < A; r++) bt(win, r * A * VL, VL, tmp, r * A * VL, VL); // along x: tmp[r][j]
            for (int j = 0; j < A; j++) bt(tmp, j * VL, A * VL, v, vOff + j * posStride + c0, A * posStride); // along y
        }
    }

    /** dst[k·ds] = (Bᵀ · (src[0], src[ss], …, src[5·ss]))[k], k &lt; 6, one vector each. */
    private static void bt(float[] src, int so, int ss, float[] dst, int d, int ds) {
        FloatVector d0 = FloatVector.fromArray(S, src, so), d1 = FloatVector.fromArray(S, src, so + ss),
                d2 = FloatVector.fromArray(S, src, so + 2 * ss), d3 = FloatVector.fromArray(S, src, so + 3 * ss),
                d4 = FloatVector.fromArray(S, src, so + 4 * ss), d5 = FloatVector.fromArray(S, src, so + 5 * ss);
        d0.fma(C4, d2.fma(CM5, d4)).intoArray(dst, d);                        // 4d0 − 5d2 + d4
        d1.add(d2).fma(CM4, d3.add(d4)).intoArray(dst, d + ds);               // −4d1 − 4d2 + d3 + d4
        d1.sub(d2).fma(C4, d4.sub(d3)).intoArray(dst, d + 2 * ds);            // 4d1 − 4d2 − d3 + d4
        FloatVector odd = d3.sub(d1), even = d4.sub(d2);
        odd.fma(C2, even).intoArray(dst, d + 3 * ds);                         // −2d1 − d2 + 2d3 + d4
        odd.fma(CM2, even).intoArray(dst, d + 4 * ds);                        // 2d1 − d2 − 2d3 + d4
        d1.fma(C4, d3.fma(CM5, d5)).intoArray(dst, d + 5 * ds);               // 4d1 − 5d3 + d5
    }

    /** Scalar twin of {@link #inputVector}: Bᵀ d B by the matrix's definition, one channel at a time. */
    private static void inputScalar(MemorySegment x, int ci, long[] rowPix, int[] colPix, Scratch s, float[] v, int vOff,
                                    int posStride) {
        float[] win = s.sw, tmp = s.st;
        for (int c0 = 0; c0 < ci; c0++) {
            for (int r = 0; r < A; r++)
                for (int c = 0; c < A; c++)
                    win[r * A + c] = rowPix[r] >= 0 && colPix[c] >= 0 ? x.getAtIndex(F, (rowPix[r] + colPix[c]) * ci + c0) : 0f;
            for (int r = 0; r < A; r++)
                for (int j = 0; j < A; j++) {
                    float acc = 0;
                    for (int c = 0; c < A; c++) acc = Math.fma(BT[j][c], win[r * A + c], acc);
                    tmp[r * A + j] = acc;
                }
            for (int i = 0; i < A; i++)
                for (int j = 0; j < A; j++) {
                    float acc = 0;
                    for (int r = 0; r < A; r++) acc = Math.fma(BT[i][r], tmp[r * A + j], acc);
                    v[vOff + (i * A + j) * posStride + c0] = acc;
                }
        }
    }

    // ---------------------------------------------------------------- output: Y = Aᵀ M A + bias

    /** One tile from M[pos][c] at element mOff + pos·coP + c of m: the rows × cols pixels of y from yBase (element index). */
    private static void outputVector(MemorySegment m, int mOff, int coP, int co, float[] bias, Scratch s, MemorySegment y, long yBase,
                                     int ow, int rows, int cols) {
        float[] win = s.win, tmp = s.tmp, out = s.out;
        for (int c0 = 0; c0 < co; c0 += VL) {
            for (int pos = 0; pos < P; pos++) // coP ≥ c0 + VL: whole vectors (lanes past co are never stored)
                FloatVector.fromMemorySegment(S, m, ((long) mOff + pos * coP + c0) * 4, NATIVE).intoArray(win, pos * VL);
            for (int i = 0; i < A; i++) at(win, i * A * VL, VL, tmp, i * M * VL, VL);               // along x: tmp[i][xx]
            for (int xx = 0; xx < M; xx++) at(tmp, xx * VL, M * VL, out, xx * VL, M * VL);      // along y: out[yy][xx]
            boolean full = c0 + VL <= co;
            VectorMask<Float> mask = full ? null : S.indexInRange(c0, co);
            FloatVector bv = bias == null ? FloatVector.zero(S) : FloatVector.fromArray(S, bias, c0); // bias padded to panels
            for (int yy = 0; yy < rows; yy++)
                for (int xx = 0; xx < cols; xx++) {
                    FloatVector r = FloatVector.fromArray(S, out, (yy * M + xx) * VL).add(bv);
                    long off = (yBase + ((long) yy * ow + xx) * co + c0) * 4L;
                    if (full) r.intoMemorySegment(y, off, NATIVE);
                    else r.intoMemorySegment(y, off, NATIVE, mask);
                }
        }
    }

    /** dst[k·ds] = (Aᵀ · (src[0], src[ss], …, src[5·ss]))[k], k &lt; 4, one vector each. */
    private static void at(float[] src, int so, int ss, float[] dst, int d, int ds) {
        FloatVector m0 = FloatVector.fromArray(S, src, so), m1 = FloatVector.fromArray(S, src, so + ss),
                m2 = FloatVector.fromArray(S, src, so + 2 * ss), m3 = FloatVector.fromArray(S, src, so + 3 * ss),
                m4 = FloatVector.fromArray(S, src, so + 4 * ss), m5 = FloatVector.fromArray(S, src, so + 5 * ss);
        FloatVector a = m1.add(m2), b = m1.sub(m2), c = m3.add(m4), e = m3.sub(m4);
        m0.add(a).add(c).intoArray(dst, d);                 // m0 + m1 + m2 + m3 + m4
        e.fma(C2, b).intoArray(dst, d + ds);                // m1 − m2 + 2m3 − 2m4
        c.fma(C4, a).intoArray(dst, d + 2 * ds);            // m1 + m2 + 4m3 + 4m4
        e.fma(C8, b.add(m5)).intoArray(dst, d + 3 * ds);    // m1 − m2 + 8m3 − 8m4 + m5
    }

    /** Scalar twin of {@link #outputVector}: Aᵀ M A by the matrix's definition, one channel at a time. */
    private static void outputScalar(MemorySegment m, int mOff, int coP, int co, float[] bias, Scratch s, MemorySegment y, long yBase,
                                     int ow, int rows, int cols) {
        float[] tmp = s.st, out = s.so;
        for (int c0 = 0; c0 < co; c0++) {
            for (int i = 0; i < A; i++)
                for (int xx = 0; xx < M; xx++) {
                    float acc = 0;
                    for (int j = 0; j < A; j++) acc = Math.fma(AT[xx][j], m.getAtIndex(F, (long) mOff + (i * A + j) * coP + c0), acc);
                    tmp[i * M + xx] = acc;
                }
            for (int yy = 0; yy < M; yy++)
                for (int xx = 0; xx < M; xx++) {
                    float acc = 0;
                    for (int i = 0; i < A; i++) acc = Math.fma(AT[yy][i], tmp[i * M + xx], acc);
                    out[yy * M + xx] = acc;
                }
            float bv = bias == null ? 0f : bias[c0];
            for (int yy = 0; yy < rows; yy++)
                for (int xx = 0; xx < cols; xx++)
                    y.setAtIndex(F, yBase + ((long) yy * ow + xx) * co + c0, out[yy * M + xx] + bv);
        }
    }
}
