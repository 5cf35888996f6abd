package dev.onestep.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

import dev.onestep.tensor.DType;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * C[M, N] = A[M, K] · B[K, N] (+ bias[N]) with B pre-packed, the engine behind linear layers and convolutions.
 *
 * <p>Blocking (BLIS-style, with the roles chosen so the weights are the vector operand):
 * <ul>
 *   <li>B (weights) is packed once at prepare time into column panels of NR = 2 vectors: [panel][K][NR],
 *       zero-padded past N, so the micro-kernel always loads whole vectors.
 *   <li>A (activations) is packed per (MC rows × kc) block into a per-thread buffer: row-major [MC][kc] for the
 *       12-row kernel; for the 4-row one, 4 rows at a time through an L1-sized row-major buffer into k-major
 *       micro-panels ({@link #toKMajor}; a 4 × 8 vector transpose with 8-float vectors). The {@link ASource} does the
 *       gathering: plain row copies for a matrix, patch gathers for a convolution (implicit GEMM: no full im2col
 *       buffer ever exists).
 *   <li>The micro-kernel computes MR × NR = MR rows × 2 vectors over kc, broadcasting one A value per row and k; the
 *       kc × NR slice of a B panel (widened to fp32 into a per-thread buffer when the weights are F16/BF16) stays in L1
 *       while all MC/MR row groups pass over it. MR fits the register file ({@link #microRows}): 12 rows (24 of the
 *       32 AVX-512 or ARM vector registers as accumulators) or, on x86 without AVX-512 (16 registers), 4 rows
 *       (8 accumulators) reading A from k-major micro-panels ([k][4], {@link #toKMajor}): what C2 compiles without
 *       spilling there (6 or 12 rows spill an accumulator through the stack every k step). Each output's k order is
 *       the same for every shape, so the results are bit-identical whichever MR runs.
 *   <li>K blocks are accumulated into C in the write-back (the first block adds the bias).
 *   <li>Parallel over (M block, N panel group) tiles.
 * </ul>
 */
final class Gemm {
    private Gemm() {}

    static final VectorSpecies<Float> S = CpuBackend.SPECIES;
    static final int VL = S.length();
    static final int MR = microRows(System.getProperty("onestep.cpu.mr"), System.getProperty("os.arch", ""), VL);
    /** A is gathered into k-major micro-panels (A[r][k] at [k·MR + r]) for the 4-row kernel. */
    static final boolean K_MAJOR = MR == 4;
    static final int NR = 2 * VL;
    /**
     * Block sizes: K ≤ KC per block, MC rows of A per block. The 12-row kernel keeps the first tuning's 256 / 384 (tuned on a
     * Zen 5); the 4-row k-major one takes 384 / 192 (an A block of 295 KB stays in a 512 KB L2, a B slice of 24 KB in
     * L1), measured in-process on a Zen 3: the UNet's 320- and 640-channel convs 8-11 % faster, its 320-wide linears up
     * to 15 %, 2048³ within 3 % (docs/PERF.md, "GEMM kernels").
     */
    static final int KC = Integer.getInteger("onestep.cpu.kc", K_MAJOR ? 384 : 256);
    static final int MC = MR * Math.max(1, Integer.getInteger("onestep.cpu.mc", K_MAJOR ? 192 : 384) / MR);
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort H = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    /**
     * Weights packed for the micro-kernel: panels of NR output columns, [panel][K][NR], off-heap in their stored dtype
     * (F32, or F16/BF16 at half the memory, widened to fp32 one kc × NR panel slice at a time in {@link #run}), plus a
     * bias padded to panels·NR (or null). {@link #close()} frees the memory. {@link #onHeap} packs into a Java array
     * instead, which the micro-kernel reads in place (no per-slice copy): for operands packed per call (attention's
     * Kᵀ and V), never for weights (off-heap, any size).
     */
    static final class Packed implements AutoCloseable {
        final int k, n, panels;
        final DType dtype;
        final MemorySegment data;
        final float[] bias;
        /** The F32 panels as a Java array (data is a view of it), or null when they are off-heap. */
        final float[] heap;
        private final Arena arena;

        private Packed(int k, int n, DType dtype, Arena arena, MemorySegment data, float[] bias, float[] heap) {
            this.k = k;
            this.n = n;
            this.panels = (n + NR - 1) / NR;
            this.dtype = dtype;
            this.arena = arena;
            this.data = data;
            this.bias = bias;
            this.heap = heap;
        }

        /**
         * Packs B given as element(k, n) in F32, no bias, into a Java array; off-heap ({@link #of}) when the panels would
         * not fit one (2³¹ floats).
         */
        static Packed onHeap(int k, int n, ElementAt b) {
            int panels = (n + NR - 1) / NR;
            long size = (long) panels * k * NR;
            if (size > Integer.MAX_VALUE - 8) return of(k, n, b, null);
            float[] data = new float[(int) Math.max(1, size)];
            fillPanels(k, n, b, (base, row) -> System.arraycopy(row, 0, data, (int) base, NR));
            return heapPanels(k, n, data);
        }

        /** Wraps F32 panels already laid out [panel][k][NR] (zero past N) in a Java array, read in place; no bias. */
        static Packed heapPanels(int k, int n, float[] data) {
            if (data.length < (long) ((n + NR - 1) / NR) * k * NR)
                throw new IllegalArgumentException("heap panels: " + data.length + " floats for K = " + k + ", N = " + n);
            return new Packed(k, n, DType.F32, null, MemorySegment.ofArray(data), null, data);
        }

        /** Packs B given as element(k, n) in F32. */
        static Packed of(int k, int n, ElementAt b, float[] bias) {
            return of(k, n, b, bias, DType.F32);
        }

        /**
         * Packs B given as element(k, n), stored as {@code dtype} (F32, F16 or BF16; values are rounded to it, which
         * is exact when they came from that dtype).
         */
        static Packed of(int k, int n, ElementAt b, float[] bias, DType dtype) {
            if (dtype != DType.F32 && dtype != DType.F16 && dtype != DType.BF16)
                throw new IllegalArgumentException("weights stored as " + dtype);
            int panels = (n + NR - 1) / NR;
            long size = (long) panels * k * NR;
            int es = dtype.byteSize();
            Arena arena = Arena.ofShared();
            MemorySegment data = MappedMemory.allocate(arena, size * es); // faulted in by the parallel fill below
            fillPanels(k, n, b, (base, row) -> {
                switch (dtype) {
                    case F32 -> MemorySegment.copy(row, 0, data, F, base * 4, NR);
                    case F16 -> { for (int j = 0; j < NR; j++) data.setAtIndex(H, base + halfSlot(j), Float.floatToFloat16(row[j])); }
                    default -> { for (int j = 0; j < NR; j++) data.setAtIndex(H, base + halfSlot(j), DType.f32ToBf16(row[j])); }
                }
            });
            float[] pb = null;
            if (bias != null) {
                pb = new float[panels * NR];
                System.arraycopy(bias, 0, pb, 0, n);
            }
            return new Packed(k, n, dtype, arena, data, pb, null);
        }

        /** Receives panel row (p, kk) of NR values, zero past N, with its element offset (p·K + kk)·NR. */
        @FunctionalInterface
        private interface RowSink {
            void put(long base, float[] row);
        }

        /**
         * Feeds every panel row of B [K, N] to {@code sink}, panels in parallel when there are many (b.at must be a pure
         * read, and the sink must write only its row's slots): weight loading and per-call K/V packing in attention.
         */
        private static void fillPanels(int k, int n, ElementAt b, RowSink sink) {
            int panels = (n + NR - 1) / NR;
            boolean par = (long) panels * k * NR >= (1 << 16);
            Parallel.parallelFor(par ? panels : 1, t -> {
                float[] row = new float[NR];
                int pFrom = par ? t : 0, pTo = par ? t + 1 : panels;
                for (int p = pFrom; p < pTo; p++)
                    for (int kk = 0; kk < k; kk++) {
                        for (int j = 0; j < NR; j++) {
                            int col = p * NR + j;
                            row[j] = col < n ? b.at(kk, col) : 0f;
                        }
                        sink.put(((long) p * k + kk) * NR, row);
                    }
            });
        }

        /**
         * Where column j of a half-precision panel row sits: pair-interleaved, column j (j < VL) in the low half and
         * column VL + j in the high half of 32-bit slot j, so the kernel widens a row with two shifts ({@link Half#widenPairs}).
         */
        static int halfSlot(int j) {
            return j < VL ? 2 * j : 2 * (j - VL) + 1;
        }

        /** Bytes of packed weights. */
        long bytes() { return data.byteSize(); }

        @Override
        public void close() {
            if (arena != null && arena.scope().isAlive()) arena.close();
        }
    }

    /**
     * dst[0 .. kc·NR) = panel {@code p}'s rows [k0, k0 + kc) widened to fp32. F16 widening is exact (the vector path does
     * it with integer ops: no vector f16 conversion exists in the Vector API).
     */
    static void widen(Packed b, int p, int k0, int kc, float[] dst, boolean vector) {
        long off = ((long) p * b.k + k0) * NR;
        int len = kc * NR;
        switch (b.dtype) {
            case F32 -> MemorySegment.copy(b.data, F, off * 4, dst, 0, len);
            case F16, BF16 -> {
                boolean bf = b.dtype == DType.BF16;
                if (vector && Half.PAIRS) {
                    Half.widenPairs(b.data, off * 2, dst, kc, bf);
                } else {
                    for (int i = 0; i < len; i++) {
                        short bits = b.data.getAtIndex(H, off + (i / NR) * NR + Packed.halfSlot(i % NR));
                        dst[i] = bf ? DType.bf16ToF32(bits) : Float.float16ToFloat(bits);
                    }
                }
            }
        }
    }

    @FunctionalInterface
    interface ElementAt {
        float at(int k, int n);
    }

    /** Gathers rows [m0, m0 + rows) × columns [k0, k0 + kc) of A into dst[r·kc + kk]. */
    @FunctionalInterface
    interface ASource {
        void pack(int m0, int rows, int k0, int kc, float[] dst);
    }

    /** A is a row-major [M, K] F32 segment. */
    static ASource matrix(MemorySegment a, int k) {
        return (m0, rows, k0, kc, dst) -> {
            for (int r = 0; r < rows; r++)
                MemorySegment.copy(a, F, ((long) (m0 + r) * k + k0) * 4, dst, r * kc, kc);
        };
    }

    /** K blocks of at most KC: {k0, kc} pairs. */
    static int[][] uniformKBlocks(int k) {
        int blocks = Math.max(1, (k + KC - 1) / KC);
        int size = (k + blocks - 1) / blocks;
        int[][] out = new int[blocks][];
        for (int b = 0; b < blocks; b++) out[b] = new int[] {b * size, Math.min(k, (b + 1) * size) - b * size};
        return out;
    }

    private static final class Scratch {
        float[] a = new float[0];
        float[] b = new float[0];
        float[] ak = new float[0]; // the k-major block (K_MAJOR; a then holds one 4-row group)
        final float[] tile = new float[MR * NR];
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /** C [M, N] (row stride N, F32 segment) = A · B (+ bias). */
    static void run(int m, Packed b, ASource a, int[][] kBlocks, MemorySegment c, boolean vector) {
        run(m, b, a, kBlocks, c, b.n, 0, vector);
    }

    /**
     * C[r][cOff + j] (row stride ldc floats, F32 segment) = (A · B (+ bias))[r][j], spread over the threads. C should be a
     * native segment: the vector write-back into a heap segment runs the Vector API's boxing fallback (measured: 2–4 GB/s
     * of garbage and a 1.2–1.35× slower Winograd conv, see docs/PERF.md).
     */
    static void run(int m, Packed b, ASource a, int[][] kBlocks, MemorySegment c, int ldc, int cOff, boolean vector) {
        run(m, b, a, kBlocks, c, ldc, cOff, vector, true);
    }

    /**
     * The same; {@code parallel = false} runs it on the calling thread as one task per M block, every N panel under
     * one packing of A: for callers that are already parallel (attention's query tiles), where splitting N into panel
     * groups would pack the same A block once per group.
     */
    static void run(int m, Packed b, ASource a, int[][] kBlocks, MemorySegment c, int ldc, int cOff, boolean vector,
                    boolean parallel) {
        if (m == 0 || b.n == 0) return;
        int mc = Math.min(MC, (m + MR - 1) / MR * MR);
        int mBlocks = (m + mc - 1) / mc;
        int want = 4 * Parallel.THREADS;
        int nGroups = !parallel || mBlocks >= want ? 1 : Math.min(b.panels, (want + mBlocks - 1) / mBlocks);
        int perGroup = (b.panels + nGroups - 1) / nGroups;
        int groups = (b.panels + perGroup - 1) / perGroup;
        int maxKc = 0;
        for (int[] kb : kBlocks) maxKc = Math.max(maxKc, kb[1]);
        int aSize = mc * maxKc, bSize = maxKc * NR;
        int gathered = K_MAJOR ? 4 * maxKc : aSize; // rows gathered per pack call: one 4-row group, or the block
        java.util.function.IntConsumer task = t -> {
            int mb = t / groups, g = t % groups;
            int m0 = mb * mc, rows = Math.min(mc, m - m0);
            int p0 = g * perGroup, p1 = Math.min(b.panels, p0 + perGroup);
            Scratch s = SCRATCH.get();
            if (s.a.length < gathered) s.a = new float[gathered];
            if (s.b.length < bSize) s.b = new float[bSize];
            if (K_MAJOR && s.ak.length < aSize) s.ak = new float[aSize];
            float[] abuf = s.a, bbuf = s.b, tile = s.tile;
            for (int kbi = 0; kbi < kBlocks.length; kbi++) {
                int k0 = kBlocks[kbi][0], kc = kBlocks[kbi][1];
                // rows past the end of A must not feed garbage (NaN) into the tile rows we keep; they are
                // computed but never written back, so zero-filling is only needed once per block.
                float[] apanels;
                if (K_MAJOR) {
                    // one 4-row group at a time through an L1-sized buffer straight into its k-major micro-panel:
                    // no row-major copy of the whole block passes through L2
                    for (int q = 0; q < rows; q += 4) {
                        int gr = Math.min(4, rows - q);
                        a.pack(m0 + q, gr, k0, kc, abuf);
                        if (gr < 4) java.util.Arrays.fill(abuf, gr * kc, 4 * kc, 0f);
                        if (vector) toKMajorVector(abuf, s.ak, q * kc, kc);
                        else toKMajor(abuf, s.ak, q * kc, kc);
                    }
                    apanels = s.ak;
                } else {
                    a.pack(m0, rows, k0, kc, abuf);
                    java.util.Arrays.fill(abuf, rows * kc, (rows + MR - 1) / MR * MR * kc, 0f);
                    apanels = abuf;
                }
                for (int p = p0; p < p1; p++) {
                    float[] bslice = bbuf;
                    int bo = 0;
                    if (b.heap != null) { // read in place
                        bslice = b.heap;
                        bo = (p * b.k + k0) * NR;
                    } else {
                        widen(b, p, k0, kc, bbuf, vector);
                    }
                    int col0 = p * NR, cols = Math.min(NR, b.n - col0);
                    for (int i = 0; i < rows; i += MR) {
                        if (vector) kernelVector(apanels, i * kc, kc, bslice, bo, tile);
                        else kernelScalar(apanels, i * kc, kc, bslice, bo, tile);
                        writeBack(tile, c, m0 + i, Math.min(MR, rows - i), col0, cols, ldc, cOff, kbi == 0 ? b.bias : null, kbi == 0, vector);
                    }
                }
            }
        };
        if (parallel) Parallel.parallelFor(mBlocks * groups, task);
        else for (int t = 0; t < mBlocks * groups; t++) task.accept(t);
    }

    /**
     * Rows of the micro-kernel tile: 12 where the vector register file has 32 registers (AVX-512; AArch64's NEON/SVE);
     * 4 on x86 without AVX-512 (AVX2/SSE: 16 registers; the JIT uses only those whenever its vectors are narrower than
     * 512 bits, also under -XX:UseAVX=2 on an AVX-512 CPU). Measured on a Zen 3 (AVX2), one thread, L1-resident
     * operands, kc = 256 (docs/PERF.md, "GEMM kernels"): 12 rows 40 GFLOP/s, 6 rows 37, 5 rows 63, 4 rows 72, 4 rows
     * k-major 88 — at 6 rows and above C2 spills an accumulator to the stack inside the k loop.
     * {@code -Donestep.cpu.mr=4|12} forces one.
     */
    static int microRows(String forced, String arch, int lanes) {
        if (forced != null && !forced.isBlank()) {
            int v = Integer.parseInt(forced.strip());
            if (v != 4 && v != 12) throw new IllegalArgumentException("-Donestep.cpu.mr=" + v + ": expected 4 or 12");
            return v;
        }
        boolean x86 = arch.equals("amd64") || arch.equals("x86_64") || arch.equals("x86");
        return x86 && lanes < 16 ? 4 : 12;
    }

    /**
     * Interleaves one row-major group of 4 rows (A[r][k] at [r·kc + k], r < 4) into a k-major micro-panel at {@code to}
     * (A[r][k] at [to + k·4 + r]); a block's micro-panel of rows [g, g + 4) starts at g·kc, as a row-major one would.
     * Four sequential read streams, sequential writes.
     */
    static void toKMajor(float[] group, float[] kMajor, int to, int kc) {
        toKMajor(group, kMajor, to, kc, 0, to);
    }

    /**
     * The same from column k0 on ({@code o} = where column k0 goes), one element at a time: the scalar twin of
     * {@link #toKMajorVector} and its tail.
     */
    private static void toKMajor(float[] group, float[] kMajor, int to, int kc, int k0, int o) {
        int r1 = kc, r2 = 2 * kc, r3 = 3 * kc;
        for (int k = k0; k < kc; k++, o += 4) {
            kMajor[o] = group[k];
            kMajor[o + 1] = group[r1 + k];
            kMajor[o + 2] = group[r2 + k];
            kMajor[o + 3] = group[r3 + k];
        }
    }

    // 4 × 8 transpose in two rounds of two-source shuffles (indices ≥ 8 pick from the second vector)
    private static final boolean TRANSPOSE = VL == 8;
    private static final VectorShuffle<Float> ZIP_LO = shuffle(0, 8, 1, 9, 2, 10, 3, 11), ZIP_HI = shuffle(4, 12, 5, 13, 6, 14, 7, 15),
            PAIR_LO = shuffle(0, 1, 8, 9, 2, 3, 10, 11), PAIR_HI = shuffle(4, 5, 12, 13, 6, 7, 14, 15);

    private static VectorShuffle<Float> shuffle(int... idx) {
        return TRANSPOSE ? VectorShuffle.fromArray(S, idx, 0) : null;
    }

    /**
     * {@link #toKMajor} 8 columns at a time where vectors hold 8 floats (AVX2): 4 row loads, a 4 × 8 → 8 × 4 transpose
     * (zip rows 0/1 and 2/3, then pair the zips), 4 contiguous stores; ≈ 0.3 against ≈ 0.9 ns per element for the
     * element-wise loop on a Zen 3. A permutation: the same bits as the scalar loop.
     */
    static void toKMajorVector(float[] group, float[] kMajor, int to, int kc) {
        if (!TRANSPOSE) {
            toKMajor(group, kMajor, to, kc);
            return;
        }
        int k = 0, o = to;
        for (; k <= kc - VL; k += VL, o += 4 * VL) {
            FloatVector a0 = FloatVector.fromArray(S, group, k), a1 = FloatVector.fromArray(S, group, kc + k),
                    a2 = FloatVector.fromArray(S, group, 2 * kc + k), a3 = FloatVector.fromArray(S, group, 3 * kc + k);
            FloatVector lo01 = a0.rearrange(ZIP_LO, a1), hi01 = a0.rearrange(ZIP_HI, a1); // a0[0] a1[0] a0[1] a1[1] …
            FloatVector lo23 = a2.rearrange(ZIP_LO, a3), hi23 = a2.rearrange(ZIP_HI, a3);
            lo01.rearrange(PAIR_LO, lo23).intoArray(kMajor, o);                             // columns k, k+1
            lo01.rearrange(PAIR_HI, lo23).intoArray(kMajor, o + VL);                        // k+2, k+3
            hi01.rearrange(PAIR_LO, hi23).intoArray(kMajor, o + 2 * VL);                    // k+4, k+5
            hi01.rearrange(PAIR_HI, hi23).intoArray(kMajor, o + 3 * VL);                    // k+6, k+7
        }
        toKMajor(group, kMajor, to, kc, k, o);
    }

    /**
     * tile[MR][NR] = A[MR rows of the micro-panel at aOff] · Bpanel[kc][NR]: MR × 2 vector accumulators. A is row-major
     * (stride kc) for the 12-row kernel and k-major ({@link #toKMajor}) for the 4-row one.
     */
    static void kernelVector(float[] a, int aOff, int kc, float[] b, int bOff, float[] tile) {
        if (MR == 12) kernel12(a, aOff, kc, b, bOff, tile);
        else kernel4(a, aOff, kc, b, bOff, tile);
    }

    /** The 4-row micro-kernel on a k-major micro-panel: 8 accumulators, for 16-register x86 (see {@link #microRows}). */
    static void kernel4(float[] a, int aOff, int kc, float[] b, int bOff, float[] tile) {
        FloatVector c00 = FloatVector.zero(S), c01 = FloatVector.zero(S);
        FloatVector c10 = FloatVector.zero(S), c11 = FloatVector.zero(S);
        FloatVector c20 = FloatVector.zero(S), c21 = FloatVector.zero(S);
        FloatVector c30 = FloatVector.zero(S), c31 = FloatVector.zero(S);
        for (int k = 0; k < kc; k++) {
            int bo = bOff + k * NR, ao = aOff + k * 4;
            FloatVector b0 = FloatVector.fromArray(S, b, bo);
            FloatVector b1 = FloatVector.fromArray(S, b, bo + VL);
            FloatVector av;
            av = FloatVector.broadcast(S, a[ao]);
            c00 = b0.fma(av, c00);
            c01 = b1.fma(av, c01);
            av = FloatVector.broadcast(S, a[ao + 1]);
            c10 = b0.fma(av, c10);
            c11 = b1.fma(av, c11);
            av = FloatVector.broadcast(S, a[ao + 2]);
            c20 = b0.fma(av, c20);
            c21 = b1.fma(av, c21);
            av = FloatVector.broadcast(S, a[ao + 3]);
            c30 = b0.fma(av, c30);
            c31 = b1.fma(av, c31);
        }
        c00.intoArray(tile, 0);
        c01.intoArray(tile, VL);
        c10.intoArray(tile, NR);
        c11.intoArray(tile, NR + VL);
        c20.intoArray(tile, 2 * NR);
        c21.intoArray(tile, 2 * NR + VL);
        c30.intoArray(tile, 3 * NR);
        c31.intoArray(tile, 3 * NR + VL);
    }

    /** The 12-row micro-kernel: 24 accumulators, for 32-register files (see {@link #microRows}). */
    static void kernel12(float[] a, int aOff, int kc, float[] b, int bOff, float[] tile) {
        FloatVector c00 = FloatVector.zero(S), c01 = FloatVector.zero(S);
        FloatVector c10 = FloatVector.zero(S), c11 = FloatVector.zero(S);
        FloatVector c20 = FloatVector.zero(S), c21 = FloatVector.zero(S);
        FloatVector c30 = FloatVector.zero(S), c31 = FloatVector.zero(S);
        FloatVector c40 = FloatVector.zero(S), c41 = FloatVector.zero(S);
        FloatVector c50 = FloatVector.zero(S), c51 = FloatVector.zero(S);
        FloatVector c60 = FloatVector.zero(S), c61 = FloatVector.zero(S);
        FloatVector c70 = FloatVector.zero(S), c71 = FloatVector.zero(S);
        FloatVector c80 = FloatVector.zero(S), c81 = FloatVector.zero(S);
        FloatVector c90 = FloatVector.zero(S), c91 = FloatVector.zero(S);
        FloatVector c100 = FloatVector.zero(S), c101 = FloatVector.zero(S);
        FloatVector c110 = FloatVector.zero(S), c111 = FloatVector.zero(S);
        int a0 = aOff + 0 * kc, a1 = aOff + 1 * kc, a2 = aOff + 2 * kc, a3 = aOff + 3 * kc, a4 = aOff + 4 * kc, a5 = aOff + 5 * kc, a6 = aOff + 6 * kc, a7 = aOff + 7 * kc, a8 = aOff + 8 * kc, a9 = aOff + 9 * kc, a10 = aOff + 10 * kc, a11 = aOff + 11 * kc;
        for (int k = 0; k < kc; k++) {
            int bo = bOff + k * NR;
            FloatVector b0 = FloatVector.fromArray(S, b, bo);
            FloatVector b1 = FloatVector.fromArray(S, b, bo + VL);
            FloatVector av;
            av = FloatVector.broadcast(S, a[a0 + k]);
            c00 = b0.fma(av, c00);
            c01 = b1.fma(av, c01);
            av = FloatVector.broadcast(S, a[a1 + k]);
            c10 = b0.fma(av, c10);
            c11 = b1.fma(av, c11);
            av = FloatVector.broadcast(S, a[a2 + k]);
            c20 = b0.fma(av, c20);
            c21 = b1.fma(av, c21);
            av = FloatVector.broadcast(S, a[a3 + k]);
            c30 = b0.fma(av, c30);
            c31 = b1.fma(av, c31);
            av = FloatVector.broadcast(S, a[a4 + k]);
            c40 = b0.fma(av, c40);
            c41 = b1.fma(av, c41);
            av = FloatVector.broadcast(S, a[a5 + k]);
            c50 = b0.fma(av, c50);
            c51 = b1.fma(av, c51);
            av = FloatVector.broadcast(S, a[a6 + k]);
            c60 = b0.fma(av, c60);
            c61 = b1.fma(av, c61);
            av = FloatVector.broadcast(S, a[a7 + k]);
            c70 = b0.fma(av, c70);
            c71 = b1.fma(av, c71);
            av = FloatVector.broadcast(S, a[a8 + k]);
            c80 = b0.fma(av, c80);
            c81 = b1.fma(av, c81);
            av = FloatVector.broadcast(S, a[a9 + k]);
            c90 = b0.fma(av, c90);
            c91 = b1.fma(av, c91);
            av = FloatVector.broadcast(S, a[a10 + k]);
            c100 = b0.fma(av, c100);
            c101 = b1.fma(av, c101);
            av = FloatVector.broadcast(S, a[a11 + k]);
            c110 = b0.fma(av, c110);
            c111 = b1.fma(av, c111);
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
    }

    /** Scalar twin of {@link #kernelVector}. */
    static void kernelScalar(float[] a, int aOff, int kc, float[] b, int bOff, float[] tile) {
        kernelScalar(MR, K_MAJOR, a, aOff, kc, b, bOff, tile);
    }

    /** Scalar twin of the {@code rows}-row kernel on either A layout (tile [rows][NR]): tests check both kernels anywhere. */
    static void kernelScalar(int rows, boolean kMajor, float[] a, int aOff, int kc, float[] b, int bOff, float[] tile) {
        java.util.Arrays.fill(tile, 0, rows * NR, 0f);
        for (int r = 0; r < rows; r++) {
            int tr = r * NR;
            for (int k = 0; k < kc; k++) {
                float av = kMajor ? a[aOff + k * rows + r] : a[aOff + r * kc + k];
                int bo = bOff + k * NR;
                for (int j = 0; j < NR; j++) tile[tr + j] = Math.fma(av, b[bo + j], tile[tr + j]);
            }
        }
    }

    /** C[row0 + r][col0 + j] = (first ? bias : C) + tile[r][j] for the valid rows × cols. */
    private static void writeBack(float[] tile, MemorySegment c, int row0, int rows, int col0, int cols, int ldc, int cOff,
                                  float[] bias, boolean first, boolean vector) {
        if (vector && cols == NR) { // a whole panel width: two vectors per row, no masks (the same sums as below)
            for (int r = 0; r < rows; r++) {
                long base = ((long) (row0 + r) * ldc + cOff + col0) * 4;
                int t = r * NR;
                FloatVector v0 = FloatVector.fromArray(S, tile, t), v1 = FloatVector.fromArray(S, tile, t + VL);
                if (!first) {
                    v0 = v0.add(FloatVector.fromMemorySegment(S, c, base, NATIVE));
                    v1 = v1.add(FloatVector.fromMemorySegment(S, c, base + VL * 4L, NATIVE));
                } else if (bias != null) {
                    v0 = v0.add(FloatVector.fromArray(S, bias, col0));
                    v1 = v1.add(FloatVector.fromArray(S, bias, col0 + VL));
                }
                v0.intoMemorySegment(c, base, NATIVE);
                v1.intoMemorySegment(c, base + VL * 4L, NATIVE);
            }
            return;
        }
        for (int r = 0; r < rows; r++) {
            long base = ((long) (row0 + r) * ldc + cOff + col0) * 4;
            int t = r * NR;
            int j = 0;
            if (vector) {
                for (; j < cols; j += VL) {
                    VectorMask<Float> mask = S.indexInRange(j, cols);
                    FloatVector v = FloatVector.fromArray(S, tile, t + j);
                    if (first) {
                        if (bias != null) v = v.add(FloatVector.fromArray(S, bias, col0 + j));
                    } else if (mask.allTrue()) {
                        v = v.add(FloatVector.fromMemorySegment(S, c, base + j * 4L, NATIVE));
                    } else {
                        v = v.add(FloatVector.fromMemorySegment(S, c, base + j * 4L, NATIVE, mask));
                    }
                    if (mask.allTrue()) v.intoMemorySegment(c, base + j * 4L, NATIVE);
                    else v.intoMemorySegment(c, base + j * 4L, NATIVE, mask);
                }
            } else {
                for (; j < cols; j++) {
                    float prev = first ? (bias != null ? bias[col0 + j] : 0f) : c.getAtIndex(F, base / 4 + j);
                    c.setAtIndex(F, base / 4 + j, prev + tile[t + j]);
                }
            }
        }
    }
}
