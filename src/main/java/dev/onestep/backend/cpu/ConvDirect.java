package dev.onestep.backend.cpu;

import dev.onestep.backend.Padding;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Direct NHWC convolutions for the two shapes the implicit GEMM ({@link ConvGemm}) serves badly; same packed weights.
 *
 * <p><b>Few inputs</b> (K = kh·kw·C_in ≤ {@link #SMALL_K}; the VAE encoder's conv_in, 3 channels, K = 27): the GEMM
 * gathered a 27-float patch per output pixel with three tiny segment copies and wrote a 12 × 32 tile back after only
 * 27 FMA steps. Here each output row copies its kh input rows once into a zero-padded float[] row buffer (padding,
 * stride and nearest up-sampling maps resolved there), and a 12-pixel × 32-channel micro-kernel broadcasts its A values
 * straight from that buffer through a K-offset table, starts from the bias and stores into y: no patch matrix, no tile.
 *
 * <p><b>Few outputs</b> (C_out ≤ {@link #SMALL_N}, C_in ≥ 8; the VAE decoder's conv_out, 128 → 3; opt-in, see
 * {@link #FEW_OUTPUTS}): a GEMM panel is 32
 * outputs wide, so 3 outputs did ≈ 10× the work. Here every output is a dot product over K vectorised along the input
 * channels (contiguous in NHWC): 4 pixels × 4 outputs of lane accumulators over all taps, then one fixed-order lane sum
 * each as a fixed pairwise tree (lanes at distance VL/2 first, then VL/4, …, 1; for 16 lanes one blend/permute network
 * over all 16 accumulators), deterministic like {@link VecMath#sum} but log2(VL) steps deep;
 * channels past the last whole vector in a scalar tail.
 *
 * <p>Both keep a scalar twin ({@code vector = false}); results do not depend on thread timing (one task per output row).
 */
final class ConvDirect {
    private ConvDirect() {}

    static final VectorSpecies<Float> S = CpuBackend.SPECIES;
    private static final int VL = S.length();
    private static final int MR = 12, NR = Gemm.NR; // its own 12-row kernel, whatever Gemm.MR is
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    // the lane-sum network of dot4x4 (VL = 16): masks of the lanes j with j & d set, shuffles j → j ^ d
    private static final VectorMask<Float> M8 = mask(8), M4 = mask(4), M2 = mask(2), M1 = mask(1);
    private static final VectorShuffle<Float> X8 = xor(8), X4 = xor(4), X2 = xor(2), X1 = xor(1);
    private static final int[] REV = {0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15};

    private static VectorMask<Float> mask(int d) {
        boolean[] m = new boolean[VL];
        for (int j = 0; j < VL; j++) m[j] = (j & d) != 0;
        return VectorMask.fromArray(S, m, 0);
    }

    private static VectorShuffle<Float> xor(int d) {
        return VectorShuffle.fromOp(S, j -> d < VL ? j ^ d : j);
    }

    /** Largest K = kh·kw·C_in for the few-inputs kernel: {@code -Donestep.cpu.convSmallK} (default 64; 0 turns it off). */
    static final int SMALL_K = Integer.getInteger("onestep.cpu.convSmallK", 64);
    /** Largest C_out for the few-outputs kernel: {@code -Donestep.cpu.convSmallN} (default 8; 0 turns it off). */
    static final int SMALL_N = Integer.getInteger("onestep.cpu.convSmallN", 8);

    /**
     * Least output pixels × K for the few-outputs kernel: {@code -Donestep.cpu.convSmallNMinWork} (default 2^25; the
     * decoder's conv_out at 384×512 has 196 608 × 1 152 = 2.3·10^8, the encoder's conv_out 3 072 × 4 608 = 1.4·10^7).
     * A kernel of its own has to be JIT-compiled once per process: on the 2-core machine of docs/PERF.md its first call
     * ran ≈ 1–2 s in C1 code while C2 compiled it, more than the few milliseconds per call that a small conv loses
     * to the GEMM's 32-wide panel, so small convs stay on the GEMM, whose kernel every other conv keeps warm.
     */
    static final long SMALL_N_MIN_WORK = Long.getLong("onestep.cpu.convSmallNMinWork", 1L << 25);

    /**
     * Whether convs route to {@link #fewOutputs} at all: {@code -Donestep.cpu.convFewOutputs=true} (default off). Even
     * the decoder's conv_out pays its ≈ 1–2 s of JIT warm-up on its first call and saves ≈ 30–100 ms per call after
     * that (2 threads), so it only pays off in processes that decode tens of images; a single-image run loses time.
     */
    static final boolean FEW_OUTPUTS = Boolean.getBoolean("onestep.cpu.convFewOutputs");

    /**
     * Whether {@link #fewOutputs} serves this conv: switched on ({@link #FEW_OUTPUTS}), C_out within one weight panel
     * and ≤ SMALL_N, enough channels to vectorise, and at least {@link #SMALL_N_MIN_WORK} pixels × K.
     */
    static boolean fewOutputs(int cout, int ci, long pixels, int k) {
        return FEW_OUTPUTS && cout <= Math.min(SMALL_N, NR) && ci >= 8 && pixels * k >= SMALL_N_MIN_WORK;
    }

    /** Whether {@link #fewInputs} serves this conv: K = kh·kw·C_in ≤ SMALL_K. */
    static boolean fewInputs(int k) {
        return k <= SMALL_K;
    }

    private static final class Scratch {
        float[] buf = new float[0];
        final float[] tile = new float[MR * NR];
        final float[] tail = new float[16];
        final float[] lanes = new float[16 * VL];
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    // ------------------------------------------------------------------------------------------------ few inputs

    /**
     * y [N, OH, OW, O] = conv(x) for a short K, x [N, srcH, srcW, I] read through the optional nearest maps
     * (see {@link ConvGemm#run}); weights packed [panel][K][NR].
     */
    static void fewInputs(MemorySegment x, int n, int h, int w, int ci, int[] rowMap, int[] colMap, int kh, int kw, int stride,
                          Padding pad, Gemm.Packed weights, MemorySegment y, int oh, int ow, boolean vector) {
        int k = kh * kw * ci, cout = weights.n, panels = weights.panels;
        // weights widened once per call (K × panels·NR floats: 14 KB for the VAE's conv_in)
        float[] wf = new float[panels * k * NR], slice = new float[k * NR];
        for (int p = 0; p < panels; p++) {
            Gemm.widen(weights, p, 0, k, slice, vector);
            System.arraycopy(slice, 0, wf, p * k * NR, k * NR);
        }
        float[] bias = weights.bias != null ? weights.bias : new float[panels * NR];
        boolean mapped = rowMap != null;
        int srcH = mapped ? rowMap[h - 1] + 1 : h, srcW = mapped ? colMap[w - 1] + 1 : w;
        // buffer column c holds input column c − pad.left(); a strip of MR pixels starting at ox0 ≤ max(ow, MR) − MR
        // (the last strip is shifted back so that it stays whole) reads columns up to (max(ow, MR) − 1)·stride + kw − 1
        int cols = (Math.max(ow, MR) - 1) * stride + kw, rowLen = cols * ci;
        int[] koff = new int[k]; // k = (ky·kw + kx)·I + c, as packed
        for (int ky = 0; ky < kh; ky++)
            for (int kx = 0; kx < kw; kx++)
                for (int c = 0; c < ci; c++) koff[(ky * kw + kx) * ci + c] = ky * rowLen + kx * ci + c;
        int strips = (ow + MR - 1) / MR, sc = stride * ci;
        Parallel.parallelFor(n * oh, row -> {
            int b = row / oh, oy = row % oh;
            Scratch s = SCRATCH.get();
            if (s.buf.length < kh * rowLen) s.buf = new float[kh * rowLen];
            float[] buf = s.buf;
            for (int ky = 0; ky < kh; ky++)
                fillRow(x, b, oy * stride - pad.top() + ky, h, w, ci, rowMap, colMap, srcH, srcW, pad.left(), cols, buf, ky * rowLen);
            long yRow = (long) row * ow * cout;
            for (int st = 0; st < strips; st++) {
                int ox0 = Math.min(st * MR, Math.max(0, ow - MR));
                int rows = Math.min(MR, ow - ox0);
                for (int p = 0; p < panels; p++) {
                    int col0 = p * NR, nc = Math.min(NR, cout - col0);
                    long yOff = (yRow + (long) ox0 * cout + col0) * 4;
                    if (vector)
                        kernelVector(buf, ox0 * sc, sc, koff, wf, p * k * NR, bias, col0, y, yOff, cout * 4L, rows, nc, s.tile);
                    else
                        kernelScalar(buf, ox0 * sc, sc, koff, wf, p * k * NR, bias, col0, y, yOff, cout * 4L, rows, nc);
                }
            }
        });
    }

    /** buf[off + c·I ..] = input row iy at columns c − padLeft for c in [0, cols), zeros outside the image. */
    private static void fillRow(MemorySegment x, int b, int iy, int h, int w, int ci, int[] rowMap, int[] colMap, int srcH, int srcW,
                                int padLeft, int cols, float[] buf, int off) {
        if (iy < 0 || iy >= h) {
            Arrays.fill(buf, off, off + cols * ci, 0f);
            return;
        }
        int cLo = Math.min(cols, padLeft), cHi = Math.max(cLo, Math.min(cols, padLeft + w)); // in-image columns [cLo, cHi)
        Arrays.fill(buf, off, off + cLo * ci, 0f);
        Arrays.fill(buf, off + cHi * ci, off + cols * ci, 0f);
        if (cHi == cLo) return;
        if (rowMap == null) {
            long src = (((long) b * h + iy) * w + (cLo - padLeft)) * ci * 4L;
            MemorySegment.copy(x, F, src, buf, off + cLo * ci, (cHi - cLo) * ci);
        } else {
            long rowBase = ((long) b * srcH + rowMap[iy]) * srcW * ci;
            for (int c = cLo; c < cHi; c++) {
                long src = rowBase + (long) colMap[c - padLeft] * ci;
                for (int i = 0; i < ci; i++) buf[off + c * ci + i] = x.getAtIndex(F, src + i);
            }
        }
    }

    /**
     * y rows [0, rows) × columns [0, nc) (row stride yStride bytes, from byte yOff) = bias[col0 ..] + Σ_k A[r][k]·W[k][·]
     * with A[r][k] = a[aOff + r·sc + koff[k]], W = wf[wOff + k·NR ..]: 12 × 2 vector accumulators, as {@link Gemm#kernelVector}.
     */
    static void kernelVector(float[] a, int aOff, int sc, int[] koff, float[] wf, int wOff, float[] bias, int col0,
                             MemorySegment y, long yOff, long yStride, int rows, int nc, float[] tile) {
        FloatVector bias0 = FloatVector.fromArray(S, bias, col0), bias1 = FloatVector.fromArray(S, bias, col0 + VL);
        FloatVector c00 = bias0, c01 = bias1, c10 = bias0, c11 = bias1, c20 = bias0, c21 = bias1, c30 = bias0, c31 = bias1;
        FloatVector c40 = bias0, c41 = bias1, c50 = bias0, c51 = bias1, c60 = bias0, c61 = bias1, c70 = bias0, c71 = bias1;
        FloatVector c80 = bias0, c81 = bias1, c90 = bias0, c91 = bias1, c100 = bias0, c101 = bias1, c110 = bias0, c111 = bias1;
        int a0 = aOff, a1 = a0 + sc, a2 = a1 + sc, a3 = a2 + sc, a4 = a3 + sc, a5 = a4 + sc, a6 = a5 + sc, a7 = a6 + sc,
                a8 = a7 + sc, a9 = a8 + sc, a10 = a9 + sc, a11 = a10 + sc;
        int k = koff.length;
        for (int kk = 0; kk < k; kk++) {
            int o = koff[kk], bo = wOff + kk * NR;
            FloatVector b0 = FloatVector.fromArray(S, wf, bo);
            FloatVector b1 = FloatVector.fromArray(S, wf, bo + VL);
            FloatVector av;
            av = FloatVector.broadcast(S, a[a0 + o]);
            c00 = b0.fma(av, c00);
            c01 = b1.fma(av, c01);
            av = FloatVector.broadcast(S, a[a1 + o]);
            c10 = b0.fma(av, c10);
            c11 = b1.fma(av, c11);
            av = FloatVector.broadcast(S, a[a2 + o]);
            c20 = b0.fma(av, c20);
            c21 = b1.fma(av, c21);
            av = FloatVector.broadcast(S, a[a3 + o]);
            c30 = b0.fma(av, c30);
            c31 = b1.fma(av, c31);
            av = FloatVector.broadcast(S, a[a4 + o]);
            c40 = b0.fma(av, c40);
            c41 = b1.fma(av, c41);
            av = FloatVector.broadcast(S, a[a5 + o]);
            c50 = b0.fma(av, c50);
            c51 = b1.fma(av, c51);
            av = FloatVector.broadcast(S, a[a6 + o]);
            c60 = b0.fma(av, c60);
            c61 = b1.fma(av, c61);
            av = FloatVector.broadcast(S, a[a7 + o]);
            c70 = b0.fma(av, c70);
            c71 = b1.fma(av, c71);
            av = FloatVector.broadcast(S, a[a8 + o]);
            c80 = b0.fma(av, c80);
            c81 = b1.fma(av, c81);
            av = FloatVector.broadcast(S, a[a9 + o]);
            c90 = b0.fma(av, c90);
            c91 = b1.fma(av, c91);
            av = FloatVector.broadcast(S, a[a10 + o]);
            c100 = b0.fma(av, c100);
            c101 = b1.fma(av, c101);
            av = FloatVector.broadcast(S, a[a11 + o]);
            c110 = b0.fma(av, c110);
            c111 = b1.fma(av, c111);
        }
        if (rows == MR && nc == NR) { // whole tile: straight into y
            long v = VL * 4L;
            c00.intoMemorySegment(y, yOff, NATIVE);
            c01.intoMemorySegment(y, yOff + v, NATIVE);
            c10.intoMemorySegment(y, yOff + yStride, NATIVE);
            c11.intoMemorySegment(y, yOff + yStride + v, NATIVE);
            c20.intoMemorySegment(y, yOff + 2 * yStride, NATIVE);
            c21.intoMemorySegment(y, yOff + 2 * yStride + v, NATIVE);
            c30.intoMemorySegment(y, yOff + 3 * yStride, NATIVE);
            c31.intoMemorySegment(y, yOff + 3 * yStride + v, NATIVE);
            c40.intoMemorySegment(y, yOff + 4 * yStride, NATIVE);
            c41.intoMemorySegment(y, yOff + 4 * yStride + v, NATIVE);
            c50.intoMemorySegment(y, yOff + 5 * yStride, NATIVE);
            c51.intoMemorySegment(y, yOff + 5 * yStride + v, NATIVE);
            c60.intoMemorySegment(y, yOff + 6 * yStride, NATIVE);
            c61.intoMemorySegment(y, yOff + 6 * yStride + v, NATIVE);
            c70.intoMemorySegment(y, yOff + 7 * yStride, NATIVE);
            c71.intoMemorySegment(y, yOff + 7 * yStride + v, NATIVE);
            c80.intoMemorySegment(y, yOff + 8 * yStride, NATIVE);
            c81.intoMemorySegment(y, yOff + 8 * yStride + v, NATIVE);
            c90.intoMemorySegment(y, yOff + 9 * yStride, NATIVE);
            c91.intoMemorySegment(y, yOff + 9 * yStride + v, NATIVE);
            c100.intoMemorySegment(y, yOff + 10 * yStride, NATIVE);
            c101.intoMemorySegment(y, yOff + 10 * yStride + v, NATIVE);
            c110.intoMemorySegment(y, yOff + 11 * yStride, NATIVE);
            c111.intoMemorySegment(y, yOff + 11 * yStride + v, NATIVE);
            return;
        }
        c00.intoArray(tile, 0 * NR);
        c01.intoArray(tile, 0 * NR + VL);
        c10.intoArray(tile, 1 * NR);
        c11.intoArray(tile, 1 * NR + VL);
        c20.intoArray(tile, 2 * NR);
        c21.intoArray(tile, 2 * NR + VL);
        c30.intoArray(tile, 3 * NR);
        c31.intoArray(tile, 3 * NR + VL);
        c40.intoArray(tile, 4 * NR);
        c41.intoArray(tile, 4 * NR + VL);
        c50.intoArray(tile, 5 * NR);
        c51.intoArray(tile, 5 * NR + VL);
        c60.intoArray(tile, 6 * NR);
        c61.intoArray(tile, 6 * NR + VL);
        c70.intoArray(tile, 7 * NR);
        c71.intoArray(tile, 7 * NR + VL);
        c80.intoArray(tile, 8 * NR);
        c81.intoArray(tile, 8 * NR + VL);
        c90.intoArray(tile, 9 * NR);
        c91.intoArray(tile, 9 * NR + VL);
        c100.intoArray(tile, 10 * NR);
        c101.intoArray(tile, 10 * NR + VL);
        c110.intoArray(tile, 11 * NR);
        c111.intoArray(tile, 11 * NR + VL);
        for (int r = 0; r < rows; r++)
            MemorySegment.copy(tile, r * NR, y, F, yOff + r * yStride, nc);
    }

    /** Scalar twin of {@link #kernelVector}: the same FMA order per output, so the same bits. */
    static void kernelScalar(float[] a, int aOff, int sc, int[] koff, float[] wf, int wOff, float[] bias, int col0,
                             MemorySegment y, long yOff, long yStride, int rows, int nc) {
        for (int r = 0; r < rows; r++) {
            int ar = aOff + r * sc;
            for (int j = 0; j < nc; j++) {
                float acc = bias[col0 + j];
                for (int kk = 0; kk < koff.length; kk++) acc = Math.fma(a[ar + koff[kk]], wf[wOff + kk * NR + j], acc);
                y.set(F, yOff + r * yStride + j * 4L, acc);
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ few outputs

    /** y [N, OH, OW, O] = conv(x) for O ≤ {@link #SMALL_N} (one weight panel): dot products along the input channels. */
    static void fewOutputs(MemorySegment x, int n, int h, int w, int ci, int[] rowMap, int[] colMap, int kh, int kw, int stride,
                           Padding pad, Gemm.Packed weights, MemorySegment y, int oh, int ow, boolean vector) {
        int k = kh * kw * ci, cout = weights.n, groups = (cout + 3) / 4;
        // wt[o·K + k]: output-major fp32 rows, outputs padded to whole groups of 4 with zero rows
        float[] panel = new float[k * NR], wt = new float[groups * 4 * k];
        Gemm.widen(weights, 0, 0, k, panel, vector);
        for (int o = 0; o < cout; o++)
            for (int kk = 0; kk < k; kk++) wt[o * k + kk] = panel[kk * NR + o];
        float[] bias = new float[groups * 4];
        if (weights.bias != null) System.arraycopy(weights.bias, 0, bias, 0, cout);
        boolean mapped = rowMap != null;
        int srcH = mapped ? rowMap[h - 1] + 1 : h, srcW = mapped ? colMap[w - 1] + 1 : w;
        int padL = pad.left();
        // pixels whose taps all fall inside the image columns: ox·stride − padL ≥ 0 and ox·stride − padL + kw − 1 < w
        int oxLo = Math.min(ow, (padL + stride - 1) / stride);
        int oxHi = Math.max(oxLo, Math.min(ow, w - kw + padL >= 0 ? (w - kw + padL) / stride + 1 : 0));
        int cv = vector ? ci - ci % VL : 0;
        Parallel.parallelFor(n * oh, row -> {
            int b = row / oh, oy = row % oh;
            // source row (element offset of its pixel 0) per valid kernel row; the rest fall in the padding
            long[] rowBase = new long[kh];
            int[] kys = new int[kh];
            int nky = 0;
            for (int ky = 0; ky < kh; ky++) {
                int iy = oy * stride - pad.top() + ky;
                if (iy < 0 || iy >= h) continue;
                kys[nky] = ky;
                rowBase[nky++] = ((long) b * srcH + (mapped ? rowMap[iy] : iy)) * srcW * ci;
            }
            float[] acc = SCRATCH.get().tail;
            long yRow = (long) row * ow * cout;
            int ox = 0;
            while (ox < ow) {
                if (vector && ox >= oxLo && ox + 4 <= oxHi) {
                    for (int g = 0; g < groups; g++) {
                        dot4x4(x, ci, cv, colMap, stride, padL, kw, kys, rowBase, nky, ox, wt, g * 4, k, acc);
                        for (int r = 0; r < 4; r++)
                            for (int q = 0, o = g * 4; q < 4 && o < cout; q++, o++)
                                y.setAtIndex(F, yRow + (long) (ox + r) * cout + o, bias[o] + acc[r * 4 + q]);
                    }
                    ox += 4;
                } else {
                    for (int o = 0; o < cout; o++)
                        y.setAtIndex(F, yRow + (long) ox * cout + o, bias[o] + (vector
                                ? dot1(x, ci, cv, w, colMap, stride, padL, kw, kys, rowBase, nky, ox, wt, o * k)
                                : dot1Scalar(x, ci, w, colMap, stride, padL, kw, kys, rowBase, nky, ox, wt, o * k)));
                    ox++;
                }
            }
        });
    }

    /** Σ over the valid taps of pixel ox of x·wt[wOff ..], lanes first (tree-summed), channels past cv scalar. */
    private static float dot1(MemorySegment x, int ci, int cv, int w, int[] colMap, int stride, int padL, int kw, int[] kys,
                              long[] rowBase, int nky, int ox, float[] wt, int wOff) {
        FloatVector acc = FloatVector.zero(S);
        float tail = 0f;
        for (int t = 0; t < nky; t++)
            for (int kx = 0; kx < kw; kx++) {
                int ix = ox * stride - padL + kx;
                if (ix < 0 || ix >= w) continue;
                long xo = rowBase[t] + (long) (colMap != null ? colMap[ix] : ix) * ci;
                int wo = wOff + (kys[t] * kw + kx) * ci;
                int c = 0;
                for (; c < cv; c += VL)
                    acc = FloatVector.fromMemorySegment(S, x, (xo + c) * 4, NATIVE).fma(FloatVector.fromArray(S, wt, wo + c), acc);
                for (; c < ci; c++) tail = Math.fma(x.getAtIndex(F, xo + c), wt[wo + c], tail);
            }
        if (cv == 0) return tail;
        float[] lanes = SCRATCH.get().lanes;
        acc.intoArray(lanes, 0);
        return treeSum(lanes, 0) + tail;
    }

    /** Scalar twin of {@link #dot1} (and of {@link #dot4x4}): one FMA chain over the valid taps and channels. */
    private static float dot1Scalar(MemorySegment x, int ci, int w, int[] colMap, int stride, int padL, int kw, int[] kys,
                                    long[] rowBase, int nky, int ox, float[] wt, int wOff) {
        float acc = 0f;
        for (int t = 0; t < nky; t++)
            for (int kx = 0; kx < kw; kx++) {
                int ix = ox * stride - padL + kx;
                if (ix < 0 || ix >= w) continue;
                long xo = rowBase[t] + (long) (colMap != null ? colMap[ix] : ix) * ci;
                int wo = wOff + (kys[t] * kw + kx) * ci;
                for (int c = 0; c < ci; c++) acc = Math.fma(x.getAtIndex(F, xo + c), wt[wo + c], acc);
            }
        return acc;
    }

    /** Lanes[off .. off + VL) summed as a pairwise tree: lane j += lane j + d for d = VL/2, …, 1; clobbers them. */
    private static float treeSum(float[] lanes, int off) {
        for (int d = VL / 2; d >= 1; d /= 2)
            for (int j = 0; j < d; j++) lanes[off + j] = lanes[off + j] + lanes[off + j + d];
        return lanes[off];
    }

    /**
     * acc[r·4 + q] = Σ_k x(pixel ox + r)[k]·wt[(o0 + q)·K + k] for 4 pixels whose taps are all inside the image columns
     * and 4 outputs from o0: 16 lane accumulators, then a fixed-order lane sum each plus a scalar tail over channels ≥ cv.
     */
    private static void dot4x4(MemorySegment x, int ci, int cv, int[] colMap, int stride, int padL, int kw, int[] kys,
                               long[] rowBase, int nky, int ox, float[] wt, int o0, int k, float[] acc) {
        FloatVector a00 = FloatVector.zero(S), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00, a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        Arrays.fill(acc, 0f);
        int w0 = o0 * k, w1 = w0 + k, w2 = w1 + k, w3 = w2 + k;
        for (int t = 0; t < nky; t++)
            for (int kx = 0; kx < kw; kx++) {
                int ix = ox * stride - padL + kx;
                long rb = rowBase[t];
                long x0 = rb + (long) (colMap != null ? colMap[ix] : ix) * ci;
                long x1 = rb + (long) (colMap != null ? colMap[ix + stride] : ix + stride) * ci;
                long x2 = rb + (long) (colMap != null ? colMap[ix + 2 * stride] : ix + 2 * stride) * ci;
                long x3 = rb + (long) (colMap != null ? colMap[ix + 3 * stride] : ix + 3 * stride) * ci;
                int wo = (kys[t] * kw + kx) * ci;
                for (int c = 0; c < cv; c += VL) {
                    FloatVector v0 = FloatVector.fromMemorySegment(S, x, (x0 + c) * 4, NATIVE);
                    FloatVector v1 = FloatVector.fromMemorySegment(S, x, (x1 + c) * 4, NATIVE);
                    FloatVector v2 = FloatVector.fromMemorySegment(S, x, (x2 + c) * 4, NATIVE);
                    FloatVector v3 = FloatVector.fromMemorySegment(S, x, (x3 + c) * 4, NATIVE);
                    FloatVector u = FloatVector.fromArray(S, wt, w0 + wo + c);
                    a00 = v0.fma(u, a00);
                    a10 = v1.fma(u, a10);
                    a20 = v2.fma(u, a20);
                    a30 = v3.fma(u, a30);
                    u = FloatVector.fromArray(S, wt, w1 + wo + c);
                    a01 = v0.fma(u, a01);
                    a11 = v1.fma(u, a11);
                    a21 = v2.fma(u, a21);
                    a31 = v3.fma(u, a31);
                    u = FloatVector.fromArray(S, wt, w2 + wo + c);
                    a02 = v0.fma(u, a02);
                    a12 = v1.fma(u, a12);
                    a22 = v2.fma(u, a22);
                    a32 = v3.fma(u, a32);
                    u = FloatVector.fromArray(S, wt, w3 + wo + c);
                    a03 = v0.fma(u, a03);
                    a13 = v1.fma(u, a13);
                    a23 = v2.fma(u, a23);
                    a33 = v3.fma(u, a33);
                }
                for (int c = cv; c < ci; c++) {
                    float f0 = x.getAtIndex(F, x0 + c), f1 = x.getAtIndex(F, x1 + c), f2 = x.getAtIndex(F, x2 + c), f3 = x.getAtIndex(F, x3 + c);
                    for (int q = 0; q < 4; q++) {
                        float u = wt[w0 + q * k + wo + c];
                        acc[q] = Math.fma(f0, u, acc[q]);
                        acc[4 + q] = Math.fma(f1, u, acc[4 + q]);
                        acc[8 + q] = Math.fma(f2, u, acc[8 + q]);
                        acc[12 + q] = Math.fma(f3, u, acc[12 + q]);
                    }
                }
            }
        // lane sums, each the pairwise tree of treeSum (so dot1 gives the same bits for the same pixel),
        // written out inline: a call with vector arguments that C2 does not inline would box all 16 accumulators
        float[] lanes = SCRATCH.get().lanes;
        if (VL == 16) {
            // fold(a, b, d)[j] = (j & d) == 0 ? a[j] + a[j ^ d] : b[j] + b[j ^ d]: 16 accumulators → 1 vector in 15 folds;
            // lane j of the result then holds accumulator REV[j] (its 4 bits reversed)
            FloatVector b0 = a00.blend(a01, M8).add(a01.blend(a00, M8).rearrange(X8));
            FloatVector b1 = a02.blend(a03, M8).add(a03.blend(a02, M8).rearrange(X8));
            FloatVector b2 = a10.blend(a11, M8).add(a11.blend(a10, M8).rearrange(X8));
            FloatVector b3 = a12.blend(a13, M8).add(a13.blend(a12, M8).rearrange(X8));
            FloatVector b4 = a20.blend(a21, M8).add(a21.blend(a20, M8).rearrange(X8));
            FloatVector b5 = a22.blend(a23, M8).add(a23.blend(a22, M8).rearrange(X8));
            FloatVector b6 = a30.blend(a31, M8).add(a31.blend(a30, M8).rearrange(X8));
            FloatVector b7 = a32.blend(a33, M8).add(a33.blend(a32, M8).rearrange(X8));
            FloatVector c0 = b0.blend(b1, M4).add(b1.blend(b0, M4).rearrange(X4));
            FloatVector c1 = b2.blend(b3, M4).add(b3.blend(b2, M4).rearrange(X4));
            FloatVector c2 = b4.blend(b5, M4).add(b5.blend(b4, M4).rearrange(X4));
            FloatVector c3 = b6.blend(b7, M4).add(b7.blend(b6, M4).rearrange(X4));
            FloatVector d0 = c0.blend(c1, M2).add(c1.blend(c0, M2).rearrange(X2));
            FloatVector d1 = c2.blend(c3, M2).add(c3.blend(c2, M2).rearrange(X2));
            d0.blend(d1, M1).add(d1.blend(d0, M1).rearrange(X1)).intoArray(lanes, 0);
            for (int j = 0; j < 16; j++) acc[REV[j]] += lanes[j];
            return;
        }
        a00.intoArray(lanes, 0);
        a01.intoArray(lanes, VL);
        a02.intoArray(lanes, 2 * VL);
        a03.intoArray(lanes, 3 * VL);
        a10.intoArray(lanes, 4 * VL);
        a11.intoArray(lanes, 5 * VL);
        a12.intoArray(lanes, 6 * VL);
        a13.intoArray(lanes, 7 * VL);
        a20.intoArray(lanes, 8 * VL);
        a21.intoArray(lanes, 9 * VL);
        a22.intoArray(lanes, 10 * VL);
        a23.intoArray(lanes, 11 * VL);
        a30.intoArray(lanes, 12 * VL);
        a31.intoArray(lanes, 13 * VL);
        a32.intoArray(lanes, 14 * VL);
        a33.intoArray(lanes, 15 * VL);
        for (int i = 0; i < 16; i++) acc[i] += treeSum(lanes, i * VL);
    }
}
