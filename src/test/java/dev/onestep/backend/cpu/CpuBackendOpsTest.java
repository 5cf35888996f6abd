package dev.onestep.backend.cpu;

import dev.onestep.backend.Backend;
import dev.onestep.backend.Conv2dWeights;
import dev.onestep.backend.LinearWeights;
import dev.onestep.backend.Padding;
import dev.onestep.tensor.DType;
import dev.onestep.tensor.Tensor;
import dev.onestep.testutil.Compare;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static dev.onestep.backend.cpu.OpTestSupport.gaussian;
import static dev.onestep.backend.cpu.OpTestSupport.s;
import static dev.onestep.backend.cpu.OpTestSupport.uniform;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * ggml test-backend-ops in spirit: every op of CpuBackend, vector and scalar paths, against ReferenceBackend on odd
 * shapes (1×1 images, odd H/W, channel counts off the vector width, GEMM sizes off the tile, long sequences).
 *
 * <p>Bounds, |cpu − ref| ≤ atol + rtol·|ref|: GEMM-based ops (linear, conv) use atol = 2e-6·√K with O(1) outputs
 * (fp32 accumulation in a different order than the double oracle), rtol 1e-5; attention 1e-5 / 1e-5; norms 1e-5 / 1e-5;
 * SiLU 1e-6 / 1e-6; GELU/GEGLU atol 2e-6 (the float erf has |error| ≤ 4e-7); data movement is exact.
 */
class CpuBackendOpsTest {
    private static final ReferenceBackend REF = new ReferenceBackend();

    private static CpuBackend cpu(boolean vector) { return new CpuBackend(vector); }

    private static String mode(boolean vector) { return vector ? "vector" : "scalar"; }

    private static void close(Object... ts) {
        for (Object t : ts) if (t instanceof AutoCloseable c) try { c.close(); } catch (Exception e) { throw new RuntimeException(e); }
    }

    // ---------------------------------------------------------------- GEMM-based

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void linear(boolean vector) {
        Backend b = cpu(vector);
        Random r = new Random(11);
        int[][] cases = { // rows, in, out
                {1, 1, 1}, {7, 17, 33}, {65, 129, 7}, {129, 65, 129}, {1, 7, 65}, {13, 600, 31}, {6, 32, 32}, {2, 320, 1280},
                {200, 70, 40}}; // two M blocks at MC = 192 (the 4-row kernel's)
        for (int[] c : cases) {
            for (boolean bias : new boolean[] {true, false}) {
                int m = c[0], k = c[1], n = c[2];
                Tensor x = uniform(r, -1, 1, 1, m, k);
                float ws = (float) (1 / Math.sqrt(k));
                Tensor w = uniform(r, -ws, ws, n, k), bb = bias ? uniform(r, -1, 1, n) : null;
                LinearWeights wc = b.prepareLinear(w, bb), wr = REF.prepareLinear(w, bb);
                Tensor got = b.linear(x, wc), want = REF.linear(x, wr);
                Compare.assertShape("linear", want.shape(), got.shape());
                Compare.assertClose("linear " + mode(vector) + " M,K,N=" + s(c) + " bias=" + bias, want.toFloatArray(), got.toFloatArray(),
                        2e-6 * Math.sqrt(k), 1e-5);
                close(x, w, bb, got, want);
            }
        }
    }

    private record ConvCase(int n, int h, int w, int ci, int co, int k, int stride, Padding pad) {
        @Override
        public String toString() {
            return "x[" + n + "," + h + "," + w + "," + ci + "] -> " + co + " k" + k + " s" + stride + " " + pad;
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void conv2d(boolean vector) {
        Backend b = cpu(vector);
        Random r = new Random(12);
        List<ConvCase> cases = List.of(
                new ConvCase(1, 1, 1, 3, 17, 3, 1, Padding.same(1)),      // 1×1 image
                new ConvCase(2, 5, 7, 17, 33, 3, 1, Padding.same(1)),     // batch 2, odd H/W
                new ConvCase(1, 5, 7, 17, 33, 3, 2, Padding.same(1)),     // stride 2, same padding
                new ConvCase(2, 8, 9, 33, 17, 3, 2, Padding.BOTTOM_RIGHT),// VAE downsample
                new ConvCase(1, 7, 6, 3, 5, 3, 2, Padding.BOTTOM_RIGHT),
                new ConvCase(1, 45, 64, 5, 33, 3, 1, Padding.same(1)),    // wide image, few channels
                new ConvCase(2, 5, 7, 33, 65, 1, 1, Padding.NONE),        // 1×1 conv = GEMM
                new ConvCase(1, 5, 7, 33, 17, 1, 2, Padding.NONE),        // 1×1 stride 2 (gather path)
                new ConvCase(1, 4, 5, 300, 7, 3, 1, Padding.same(1)),     // channels split across K blocks
                new ConvCase(1, 4, 3, 400, 7, 3, 1, Padding.same(1)),     // … also at KC = 384 (the 4-row kernel's)
                new ConvCase(1, 6, 5, 100, 40, 3, 1, Padding.same(1)),    // two taps per K block
                new ConvCase(1, 6, 6, 4, 32, 3, 1, Padding.NONE),         // no padding
                // contiguous tap runs (stride 1, whole channels): image narrower than the kernel, 5×5, first-conv shape
                new ConvCase(2, 3, 2, 3, 20, 3, 1, Padding.same(1)),
                new ConvCase(1, 9, 8, 3, 40, 5, 1, Padding.same(2)),
                new ConvCase(1, 13, 40, 3, 128, 3, 1, Padding.same(1)),
                new ConvCase(1, 7, 9, 50, 33, 3, 1, Padding.same(1)),     // 5 + 4 taps per K block: runs cut mid-row
                // ConvDirect, few inputs (K ≤ 64): C_in 1/3/4, C_out 1/3/5/40/64, strips of 12 with a shifted last one,
                // images narrower than a strip, stride 2, the downsample's asymmetric padding, 1×1
                new ConvCase(1, 5, 29, 1, 5, 3, 1, Padding.same(1)),
                new ConvCase(2, 6, 13, 3, 1, 3, 1, Padding.same(1)),
                new ConvCase(1, 9, 26, 3, 64, 3, 2, Padding.same(1)),
                new ConvCase(1, 8, 31, 4, 3, 3, 2, Padding.BOTTOM_RIGHT),
                new ConvCase(1, 4, 5, 4, 40, 3, 1, new Padding(2, 0, 1, 3)),
                new ConvCase(1, 3, 17, 4, 5, 1, 1, Padding.NONE),
                new ConvCase(1, 11, 7, 7, 9, 3, 1, Padding.same(1)),      // K = 63
                // few outputs (C_out ≤ 8): small, so on the GEMM (ConvDirect.fewOutputs is tested directly below)
                new ConvCase(1, 6, 13, 16, 3, 3, 1, Padding.same(1)),
                new ConvCase(2, 5, 11, 17, 1, 3, 1, Padding.same(1)),
                new ConvCase(1, 7, 19, 40, 5, 3, 2, Padding.same(1)),
                new ConvCase(1, 8, 15, 32, 8, 3, 2, Padding.BOTTOM_RIGHT),
                new ConvCase(1, 5, 9, 48, 7, 3, 1, new Padding(0, 2, 3, 1)),
                new ConvCase(1, 2, 2, 20, 3, 3, 1, Padding.same(1)),
                new ConvCase(1, 9, 10, 64, 4, 5, 1, Padding.same(2)),
                new ConvCase(1, 3, 14, 24, 2, 1, 1, Padding.NONE));
        for (ConvCase c : cases) {
            Tensor x = uniform(r, -1, 1, c.n, c.h, c.w, c.ci);
            int kk = c.k * c.k * c.ci;
            float ws = (float) (1 / Math.sqrt(kk));
            Tensor w = uniform(r, -ws, ws, c.co, c.ci, c.k, c.k), bias = uniform(r, -1, 1, c.co);
            Conv2dWeights wc = b.prepareConv2d(w, bias), wr = REF.prepareConv2d(w, bias);
            Tensor got = b.conv2d(x, wc, c.stride, c.pad), want = REF.conv2d(x, wr, c.stride, c.pad);
            Compare.assertShape("conv2d " + c, want.shape(), got.shape());
            Compare.assertClose("conv2d " + mode(vector) + " " + c, want.toFloatArray(), got.toFloatArray(), 2e-6 * Math.sqrt(kk), 1e-5);
            close(x, w, bias, got, want);
        }
    }

    /** conv2dAdd = (conv + bias) + residual: vs the reference's conv2d then add, residual untouched, residual == x allowed. */
    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void conv2dAdd(boolean vector) {
        Backend b = cpu(vector);
        Random r = new Random(17);
        List<ConvCase> cases = List.of(
                new ConvCase(1, 1, 1, 3, 17, 3, 1, Padding.same(1)),
                new ConvCase(2, 5, 7, 17, 33, 3, 1, Padding.same(1)),
                new ConvCase(2, 8, 9, 33, 17, 3, 2, Padding.BOTTOM_RIGHT),
                new ConvCase(2, 5, 7, 33, 65, 1, 1, Padding.NONE),
                new ConvCase(1, 4, 5, 300, 7, 3, 1, Padding.same(1)),
                new ConvCase(1, 7, 9, 33, 33, 3, 1, Padding.same(1)));    // shape-preserving: also with residual = x
        for (ConvCase c : cases) {
            for (boolean withBias : new boolean[] {true, false}) {
                Tensor x = uniform(r, -1, 1, c.n, c.h, c.w, c.ci);
                int kk = c.k * c.k * c.ci;
                float ws = (float) (1 / Math.sqrt(kk));
                Tensor w = uniform(r, -ws, ws, c.co, c.ci, c.k, c.k), bias = withBias ? uniform(r, -1, 1, c.co) : null;
                Conv2dWeights wc = b.prepareConv2d(w, bias), wr = REF.prepareConv2d(w, bias);
                Tensor conv = REF.conv2d(x, wr, c.stride, c.pad);
                Tensor res = uniform(r, -2, 2, conv.shape());
                float[] resBefore = res.toFloatArray();
                Tensor got = b.conv2dAdd(x, wc, c.stride, c.pad, res), want = REF.add(conv, res);
                Compare.assertShape("conv2dAdd " + c, want.shape(), got.shape());
                Compare.assertClose("conv2dAdd " + mode(vector) + " " + c + " bias=" + withBias, want.toFloatArray(), got.toFloatArray(),
                        2e-6 * Math.sqrt(kk), 1e-5);
                Compare.assertClose("conv2dAdd leaves the residual alone", resBefore, res.toFloatArray(), 0);
                if (c.ci == c.co && c.stride == 1) {
                    Tensor gotX = b.conv2dAdd(x, wc, 1, c.pad, x), wantX = REF.add(conv, x);
                    Compare.assertClose("conv2dAdd residual = x " + mode(vector) + " " + c, wantX.toFloatArray(), gotX.toFloatArray(), 2e-6 * Math.sqrt(kk), 1e-5);
                    close(gotX, wantX);
                }
                close(x, w, bias, conv, res, got, want);
            }
        }
        try (Tensor x = uniform(r, -1, 1, 1, 4, 4, 3); Tensor wrong = uniform(r, -1, 1, 1, 4, 4, 5)) {
            Conv2dWeights wc = b.prepareConv2d(uniform(r, -1, 1, 4, 3, 3, 3), null);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> b.conv2dAdd(x, wc, 1, Padding.same(1), wrong));
            assertTrue(e.getMessage().startsWith("conv2dAdd"), e.getMessage());
        }
    }

    /** Source index of each of {@code out} positions under nearest up-sampling from {@code in}: the fused convs' maps. */
    private static int[] nearestMap(int in, int out) {
        int[] map = new int[out];
        for (int j = 0; j < out; j++) map[j] = CpuMath.nearestSource(j, in, out);
        return map;
    }

    /**
     * ConvDirect.fewOutputs called directly: CpuBackend routes convs to it only when switched on
     * ({@code onestep.cpu.convFewOutputs}) and for ≥ 2^25 pixels × K, so the shapes here would otherwise take the GEMM. The last case
     * reads its input through nearest up-sampling maps (the fused upsample + conv).
     */
    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void convDirectFewOutputs(boolean vector) {
        CpuBackend b = cpu(vector);
        List<ConvCase> cases = List.of(
                new ConvCase(1, 6, 13, 16, 3, 3, 1, Padding.same(1)),
                new ConvCase(2, 5, 11, 17, 1, 3, 1, Padding.same(1)),
                new ConvCase(1, 7, 19, 40, 5, 3, 2, Padding.same(1)),
                new ConvCase(1, 8, 15, 32, 8, 3, 2, Padding.BOTTOM_RIGHT),
                new ConvCase(1, 5, 9, 48, 7, 3, 1, new Padding(0, 2, 3, 1)),
                new ConvCase(1, 2, 2, 20, 3, 3, 1, Padding.same(1)),
                new ConvCase(1, 9, 10, 64, 4, 5, 1, Padding.same(2)),
                new ConvCase(1, 3, 14, 24, 2, 1, 1, Padding.NONE),
                new ConvCase(1, 4, 21, 128, 3, 3, 1, Padding.same(1)),    // the decoder's conv_out, narrow
                new ConvCase(1, 4, 9, 32, 3, 3, 1, Padding.same(1)));     // up-sampled to 8×18 below
        directConvCases("ConvDirect.fewOutputs", b, new Random(16), cases, vector, false,
                (c, x, h, w, rows, cols, packed, y, oh, ow) -> ConvDirect.fewOutputs(x, c.n, h, w, c.ci, rows, cols, c.k, c.k,
                        c.stride, c.pad, packed, y, oh, ow, vector));
    }

    /** A conv kernel called directly on one case: x [n, h, w, ci] (through the maps when not null) → y [n, oh, ow, co]. */
    @FunctionalInterface
    private interface ConvKernel {
        void run(ConvCase c, MemorySegment x, int h, int w, int[] rows, int[] cols, Gemm.Packed packed, MemorySegment y, int oh, int ow);
    }

    /**
     * Runs {@code kernel} on every case against the reference conv, the last case over its input up-sampled 2× through
     * nearest maps (the fused upsample + conv); with a bias on every case, or on every other one. Bound: the GEMM ops'
     * 2e-6·√K, rtol 1e-5. Returns the largest |error| / √K.
     */
    private static double directConvCases(String name, CpuBackend b, Random r, List<ConvCase> cases, boolean vector,
                                          boolean biasEveryOther, ConvKernel kernel) {
        double worst = 0;
        for (int i = 0; i < cases.size(); i++) {
            ConvCase c = cases.get(i);
            boolean up = i == cases.size() - 1;
            int h = up ? 2 * c.h : c.h, w = up ? 2 * c.w : c.w;
            Tensor x = uniform(r, -1, 1, c.n, c.h, c.w, c.ci);
            int kk = c.k * c.k * c.ci;
            float ws = (float) (1 / Math.sqrt(kk));
            Tensor wt = uniform(r, -ws, ws, c.co, c.ci, c.k, c.k), bias = !biasEveryOther || i % 2 == 0 ? uniform(r, -1, 1, c.co) : null;
            CpuBackend.ConvW wc = (CpuBackend.ConvW) b.prepareConv2d(wt, bias);
            int oh = c.pad.outSize(h, c.k, c.stride, true), ow = c.pad.outSize(w, c.k, c.stride, false);
            int[] rows = up ? nearestMap(c.h, h) : null, cols = up ? nearestMap(c.w, w) : null;
            Tensor got = Tensor.allocate(DType.F32, c.n, oh, ow, c.co);
            kernel.run(c, x.data(), h, w, rows, cols, wc.packed, got.data(), oh, ow);
            Tensor xin = up ? REF.upsampleNearest(x, h, w) : x;
            Tensor want = REF.conv2d(xin, REF.prepareConv2d(wt, bias), c.stride, c.pad);
            Compare.assertShape(name + " " + c, want.shape(), got.shape());
            float[] gw = got.toFloatArray(), ww = want.toFloatArray();
            for (int j = 0; j < gw.length; j++) worst = Math.max(worst, Math.abs(gw[j] - ww[j]) / Math.sqrt(kk));
            Compare.assertClose(name + " " + mode(vector) + " " + c + (up ? " up-sampled" : ""), ww, gw, 2e-6 * Math.sqrt(kk), 1e-5);
            close(x, wt, bias, got, want);
            if (up) xin.close();
            wc.close();
        }
        return worst;
    }

    /**
     * ConvWinograd called directly (CpuBackend routes 3×3 stride-1 convs with ≥ {@link ConvWinograd#MIN_TILES} tiles to it):
     * tiles cut by the image's edge, channels off the vector width, K split into blocks, batches, asymmetric padding and
     * nearest up-sampling maps. Bound: the GEMM ops' atol = 2e-6·√K, rtol 1e-5 (F(4×4, 3×3)'s transforms cost ≈ 10× the
     * direct sum's error, measured ≤ 3.7e-7·√K here and printed; a wrong or imprecise coefficient fails it).
     */
    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void convWinograd(boolean vector) {
        CpuBackend b = cpu(vector);
        List<ConvCase> cases = List.of(
                new ConvCase(1, 8, 8, 16, 32, 3, 1, Padding.same(1)),
                new ConvCase(1, 9, 14, 13, 19, 3, 1, Padding.same(1)),       // edge tiles, channel tails
                new ConvCase(2, 7, 5, 40, 33, 3, 1, Padding.same(1)),        // batch, tiles across images
                new ConvCase(1, 11, 10, 24, 8, 3, 1, Padding.NONE),          // valid conv: 9×8 output
                new ConvCase(1, 6, 13, 20, 17, 3, 1, new Padding(0, 2, 2, 1)),
                new ConvCase(1, 1, 1, 8, 8, 3, 1, Padding.same(1)),          // one pixel
                new ConvCase(1, 10, 9, 900, 40, 3, 1, Padding.same(1)),      // C_in = 900 > KC: several K blocks
                new ConvCase(1, 5, 7, 12, 21, 3, 1, Padding.same(1)));       // up-sampled to 10×14 below
        double worst = directConvCases("ConvWinograd", b, new Random(17), cases, vector, true,
                (c, x, h, w, rows, cols, packed, y, oh, ow) -> {
                    ConvWinograd.run(x, c.n, h, w, c.ci, rows, cols, c.pad, packed, y, oh, ow, vector);
                    // each output depends on its own tile only: any tile-block size gives the same bits
                    try (Tensor small = Tensor.allocate(DType.F32, c.n, oh, ow, c.co)) {
                        ConvWinograd.run(x, c.n, h, w, c.ci, rows, cols, c.pad, packed, small.data(), oh, ow, vector, 4);
                        Compare.assertClose("ConvWinograd, blocks of 4 tiles " + c, Tensor.view(y, DType.F32, c.n, oh, ow, c.co).toFloatArray(),
                                small.toFloatArray(), 0);
                    }
                });
        System.out.printf("ConvWinograd %s: largest |error| / sqrt(K) = %.3g%n", mode(vector), worst);
    }

    /** Which convs CpuBackend sends to ConvWinograd: 3×3 stride 1 only, enough tiles, a transformed weight set within the cap. */
    @Test
    void winogradRouting() {
        int t = ConvWinograd.MIN_TILES; // tiles of 4 × 4 pixels
        assertTrue(ConvWinograd.applies(3, 3, 1, 128, 128, 1, 4 * t, 4), "4t × 4 output: t tiles");
        assertTrue(!ConvWinograd.applies(3, 3, 1, 128, 128, 1, 4 * t - 4, 4), "one tile short");
        assertTrue(ConvWinograd.applies(3, 3, 1, 128, 128, 2, 2 * t, 4), "tiles of a batch count together");
        assertTrue(!ConvWinograd.applies(3, 3, 2, 128, 128, 1, 384, 512), "stride 2");
        assertTrue(!ConvWinograd.applies(1, 1, 1, 128, 128, 1, 384, 512), "1×1");
        assertTrue(!ConvWinograd.applies(3, 1, 1, 128, 128, 1, 384, 512), "3×1");
        long cap = ConvWinograd.MAX_U_BYTES / (36 * 4); // largest C_in·C_out
        assertTrue(ConvWinograd.applies(3, 3, 1, 1, (int) cap, 1, 384, 512), "transformed weights at the cap");
        assertTrue(!ConvWinograd.applies(3, 3, 1, 1, (int) cap + 1, 1, 384, 512), "transformed weights over the cap");
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void upsampleNearestConv2dFused(boolean vector) {
        CpuBackend b = cpu(vector);
        Random r = new Random(15);
        int[][] cases = { // n, h, w, ci, co, outH, outW, k
                {1, 3, 4, 5, 7, 6, 8, 3}, {2, 5, 3, 17, 33, 10, 6, 3}, {1, 4, 5, 300, 9, 7, 11, 3}, {1, 1, 1, 3, 4, 2, 2, 3},
                {1, 3, 3, 8, 5, 6, 6, 1},
                {1, 4, 9, 3, 40, 8, 18, 3}, {1, 5, 6, 3, 2, 9, 12, 3},     // ConvDirect, few inputs
                {1, 4, 9, 32, 3, 8, 18, 3}, {1, 3, 5, 20, 5, 7, 11, 3}};  // few outputs (small: GEMM)
        for (int[] c : cases) {
            Tensor x = uniform(r, -1, 1, c[0], c[1], c[2], c[3]);
            int kk = c[7] * c[7] * c[3];
            Tensor w = uniform(r, -(float) (1 / Math.sqrt(kk)), (float) (1 / Math.sqrt(kk)), c[4], c[3], c[7], c[7]), bias = uniform(r, -1, 1, c[4]);
            Padding pad = Padding.same((c[7] - 1) / 2);
            Conv2dWeights wc = b.prepareConv2d(w, bias), wr = REF.prepareConv2d(w, bias);
            Tensor got = b.upsampleNearestConv2d(x, c[5], c[6], wc, 1, pad);
            Tensor up = REF.upsampleNearest(x, c[5], c[6]);
            Tensor want = REF.conv2d(up, wr, 1, pad);
            Compare.assertShape("upsampleNearestConv2d", want.shape(), got.shape());
            Compare.assertClose("upsampleNearestConv2d " + mode(vector) + " " + s(c), want.toFloatArray(), got.toFloatArray(), 2e-6 * Math.sqrt(kk), 1e-5);
            close(x, w, bias, got, up, want);
        }
    }

    @Test
    void halfPrecisionWeightsMatchWideningByHand() {
        Backend b = cpu(true);
        Random r = new Random(13);
        for (DType dt : new DType[] {DType.F16, DType.BF16}) {
            Tensor w = uniform(r, -0.3f, 0.3f, 33, 17, 3, 3), bias = uniform(r, -1, 1, 33);
            Tensor wh = OpTestSupport.narrow(w, dt), bh = OpTestSupport.narrow(bias, dt);
            Tensor x = uniform(r, -1, 1, 1, 5, 7, 17);
            float[] viaHalf = b.conv2d(x, b.prepareConv2d(wh, bh), 1, Padding.same(1)).toFloatArray();
            float[] byHand = b.conv2d(x, b.prepareConv2d(wh.toF32(), bh.toF32()), 1, Padding.same(1)).toFloatArray();
            Compare.assertClose("conv2d " + dt + " weights", byHand, viaHalf, 0);
            // few inputs (3 → 33, ConvDirect) and few outputs (33 → 3), against the reference too
            for (int[] io : new int[][] {{3, 33}, {33, 3}}) {
                Tensor dw = OpTestSupport.narrow(uniform(r, -0.3f, 0.3f, io[1], io[0], 3, 3), dt), db = OpTestSupport.narrow(uniform(r, -1, 1, io[1]), dt);
                Tensor dx = uniform(r, -1, 1, 1, 6, 15, io[0]);
                float[] dHalf = b.conv2d(dx, b.prepareConv2d(dw, db), 2, Padding.BOTTOM_RIGHT).toFloatArray();
                float[] dHand = b.conv2d(dx, b.prepareConv2d(dw.toF32(), db.toF32()), 2, Padding.BOTTOM_RIGHT).toFloatArray();
                Compare.assertClose("conv2d " + dt + " weights " + io[0] + "->" + io[1], dHand, dHalf, 0);
                float[] dRef = REF.conv2d(dx, REF.prepareConv2d(dw, db), 2, Padding.BOTTOM_RIGHT).toFloatArray();
                Compare.assertClose("conv2d " + dt + " weights " + io[0] + "->" + io[1] + " vs reference", dRef, dHalf, 2e-6 * Math.sqrt(9 * io[0]), 1e-5);
            }

            Tensor lw = uniform(r, -0.2f, 0.2f, 65, 33), lb = uniform(r, -1, 1, 65);
            Tensor lx = uniform(r, -1, 1, 7, 33);
            Tensor lwh = OpTestSupport.narrow(lw, dt), lbh = OpTestSupport.narrow(lb, dt);
            float[] lHalf = b.linear(lx, b.prepareLinear(lwh, lbh)).toFloatArray();
            float[] lHand = b.linear(lx, b.prepareLinear(lwh.toF32(), lbh.toF32())).toFloatArray();
            Compare.assertClose("linear " + dt + " weights", lHand, lHalf, 0);
            float[] lRef = REF.linear(lx, REF.prepareLinear(lwh, lbh)).toFloatArray();
            Compare.assertClose("linear " + dt + " weights vs reference", lRef, lHalf, 2e-6 * Math.sqrt(33), 1e-5);
        }
    }

    // ---------------------------------------------------------------- attention

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void attention(boolean vector) {
        Backend b = cpu(vector);
        Random r = new Random(14);
        int[][] cases = { // n, lq, lk, heads, d, dv, causal, scaleMode (0: 1/√d, 1: 1.0 → sharp softmax)
                {1, 7, 2, 5, 64, 64, 0, 0},      // cross-attention on 2 text tokens
                {2, 300, 300, 4, 16, 16, 0, 0},  // long self-attention: several query and key tiles
                {1, 77, 77, 4, 16, 16, 1, 0},    // CLIP-style causal
                {1, 300, 300, 1, 33, 33, 1, 1},  // causal, odd head dim, sharp scores
                {2, 5, 9, 1, 3, 3, 0, 0},
                {1, 130, 70, 5, 64, 64, 0, 1},   // Lq ≠ Lk, sharp scores
                {1, 70, 130, 2, 8, 8, 1, 0},     // causal with Lq < Lk
                {1, 33, 65, 2, 16, 24, 0, 0},    // value dim ≠ key dim
                // GEMM path (AttentionGemm: non-causal, Lk ≥ 256): odd sizes, several query blocks, d past one K block
                {1, 400, 520, 1, 40, 24, 0, 1},
                {2, 260, 257, 3, 20, 20, 0, 0},
                {1, 13, 300, 1, 300, 290, 0, 0},
                {1, 9, 260, 1, 400, 16, 0, 0},   // d past one K block at KC = 384 too
                // short keys (ShortAttention, Lk ≤ 16): odd head dims, causal, sharp scores, one key, the threshold
                {2, 37, 3, 3, 20, 20, 1, 1},
                {1, 45, 16, 2, 17, 33, 0, 1},
                {1, 5, 1, 1, 3, 5, 0, 0},
                {2, 70, 13, 4, 40, 8, 1, 0}};
        for (int[] c : cases) {
            int n = c[0], lq = c[1], lk = c[2], h = c[3], d = c[4], dv = c[5];
            boolean causal = c[6] == 1;
            float scale = c[7] == 0 ? (float) (1 / Math.sqrt(d)) : 1f;
            Tensor q = gaussian(r, 1, 0, n, lq, h * d), k = gaussian(r, 1, 0, n, lk, h * d), v = gaussian(r, 1, 0, n, lk, h * dv);
            Tensor got = b.attention(q, k, v, h, scale, causal), want = REF.attention(q, k, v, h, scale, causal);
            Compare.assertShape("attention", want.shape(), got.shape());
            Compare.assertClose("attention " + mode(vector) + " n,Lq,Lk,heads,d,dv,causal,sharp=" + s(c), want.toFloatArray(), got.toFloatArray(),
                    1e-5, 1e-5);
            close(q, k, v, got, want);
        }
    }

    // ---------------------------------------------------------------- norms

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void groupNorm(boolean vector) {
        Backend b = cpu(vector);
        Random r = new Random(15);
        // the last two: many chunks and float flushes per chunk, C off the vector width
        int[][] shapes = {{1, 5, 7, 32}, {2, 9, 11, 64}, {1, 1, 1, 32}, {2, 300, 33}, {1, 45, 64, 17}, {1, 96, 97, 64}, {2, 61, 67, 40}};
        int[][] groupsFor = {{32, 8, 1}, {32}, {32, 1}, {1, 3, 11}, {1, 17}, {32}, {8}};
        for (int i = 0; i < shapes.length; i++)
            for (int g : groupsFor[i])
                for (boolean silu : new boolean[] {false, true}) {
                    int c = shapes[i][shapes[i].length - 1];
                    Tensor x = gaussian(r, 2, 5, shapes[i]); // offset mean: the two-pass variance must not cancel
                    Tensor gamma = uniform(r, 0.5f, 1.5f, c), beta = uniform(r, -0.5f, 0.5f, c);
                    float eps = g == 32 ? 1e-6f : 1e-5f;
                    Tensor got = b.groupNorm(x, g, gamma, beta, eps, silu), want = REF.groupNorm(x, g, gamma, beta, eps, silu);
                    Compare.assertClose("groupNorm " + mode(vector) + " x" + s(shapes[i]) + " groups=" + g + " silu=" + silu,
                            want.toFloatArray(), got.toFloatArray(), 1e-5, 1e-5);
                    close(x, gamma, beta, got, want);
                }
    }

    /** Mean far from zero relative to the spread: the one-pass statistics must not cancel. */
    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void groupNormLargeMean(boolean vector) {
        Backend b = cpu(vector);
        Random r = new Random(16);
        for (int[] shape : new int[][] {{1, 48, 64, 64}, {1, 3, 5, 33}}) {
            int c = shape[shape.length - 1];
            Tensor x = gaussian(r, 0.05f, 40, shape);
            Tensor gamma = uniform(r, 0.5f, 1.5f, c), beta = uniform(r, -0.5f, 0.5f, c);
            for (int g : new int[] {1, c == 64 ? 32 : 3}) {
                Tensor got = b.groupNorm(x, g, gamma, beta, 1e-6f, true), want = REF.groupNorm(x, g, gamma, beta, 1e-6f, true);
                Compare.assertClose("groupNorm large mean " + mode(vector) + " x" + s(shape) + " groups=" + g,
                        want.toFloatArray(), got.toFloatArray(), 1e-4, 1e-4);
                close(got, want);
            }
            close(x, gamma, beta);
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void layerNorm(boolean vector) {
        Backend b = cpu(vector);
        Random r = new Random(16);
        int[][] shapes = {{3, 17}, {1, 5, 33}, {2, 77, 320}, {1, 1, 1}, {1, 4, 1024}};
        for (int[] shape : shapes) {
            int c = shape[shape.length - 1];
            Tensor x = gaussian(r, 3, -4, shape), gamma = uniform(r, 0.5f, 1.5f, c), beta = uniform(r, -0.5f, 0.5f, c);
            Tensor got = b.layerNorm(x, gamma, beta, 1e-5f), want = REF.layerNorm(x, gamma, beta, 1e-5f);
            Compare.assertClose("layerNorm " + mode(vector) + " x" + s(shape), want.toFloatArray(), got.toFloatArray(), 1e-5, 1e-5);
            close(x, gamma, beta, got, want);
        }
    }

    // ---------------------------------------------------------------- element-wise

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void activations(boolean vector) {
        Backend b = cpu(vector);
        Random r = new Random(17);
        for (int len : new int[] {1, 17, 1000, 100_003}) {
            Tensor x = uniform(r, -9, 9, len);
            Compare.assertClose("silu " + mode(vector) + " [" + len + "]", REF.silu(x).toFloatArray(), b.silu(x).toFloatArray(), 1e-6, 1e-6);
            Compare.assertClose("gelu " + mode(vector) + " [" + len + "]", REF.gelu(x).toFloatArray(), b.gelu(x).toFloatArray(), 2e-6, 1e-6);
            close(x);
        }
        // extremes stay finite and saturate
        Tensor ext = Tensor.of(new float[] {-100, -30, 0, 30, 100, -1e30f, 1e30f}, 7);
        Compare.assertClose("silu extremes " + mode(vector), REF.silu(ext).toFloatArray(), b.silu(ext).toFloatArray(), 1e-6, 1e-6);
        Compare.assertClose("gelu extremes " + mode(vector), REF.gelu(ext).toFloatArray(), b.gelu(ext).toFloatArray(), 1e-6, 1e-6);
        for (int[] shape : new int[][] {{2, 7, 66}, {1, 300, 80}, {1, 2}}) {
            Tensor x = uniform(r, -5, 5, shape);
            Tensor got = b.geglu(x), want = REF.geglu(x);
            Compare.assertShape("geglu", want.shape(), got.shape());
            Compare.assertClose("geglu " + mode(vector) + " x" + s(shape), want.toFloatArray(), got.toFloatArray(), 1e-5, 1e-6);
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void dataMovementAndArithmetic(boolean vector) {
        Backend b = cpu(vector);
        Random r = new Random(18);
        Tensor x = uniform(r, -1, 1, 2, 3, 5, 17);
        for (int[] out : new int[][] {{6, 10}, {5, 7}, {1, 1}, {3, 5}, {7, 11}}) {
            Compare.assertClose("upsampleNearest " + mode(vector) + " to " + s(out), REF.upsampleNearest(x, out[0], out[1]).toFloatArray(),
                    b.upsampleNearest(x, out[0], out[1]).toFloatArray(), 0);
        }
        Tensor y = uniform(r, -1, 1, 2, 3, 5, 33);
        Tensor cat = b.concatChannels(x, y);
        Compare.assertClose("concatChannels " + mode(vector), REF.concatChannels(x, y).toFloatArray(), cat.toFloatArray(), 0);
        Compare.assertClose("sliceChannels " + mode(vector), y.toFloatArray(), b.sliceChannels(cat, 17, 33).toFloatArray(), 0);
        Compare.assertClose("sliceChannels head", x.toFloatArray(), b.sliceChannels(cat, 0, 17).toFloatArray(), 0);

        Tensor a1 = uniform(r, -1, 1, 3, 7, 33), a2 = uniform(r, -1, 1, 3, 7, 33);
        Compare.assertClose("add " + mode(vector), REF.add(a1, a2).toFloatArray(), b.add(a1, a2).toFloatArray(), 0);
        Compare.assertClose("axpby " + mode(vector), REF.axpby(0.7f, a1, -1.3f, a2).toFloatArray(),
                b.axpby(0.7f, a1, -1.3f, a2).toFloatArray(), 1e-6, 1e-6);
        Compare.assertClose("axpby null y " + mode(vector), REF.axpby(-2.5f, a1, 9f, null).toFloatArray(),
                b.axpby(-2.5f, a1, 9f, null).toFloatArray(), 0);
        float[] sum = REF.add(a1, a2).toFloatArray();
        assertSame(a1, b.addInPlace(a1, a2));
        Compare.assertClose("addInPlace " + mode(vector), sum, a1.toFloatArray(), 0);

        Tensor img = uniform(r, -1, 1, 2, 5, 7, 33), temb = uniform(r, -1, 1, 2, 33);
        Compare.assertClose("addPerChannel " + mode(vector), REF.addPerChannel(img, temb).toFloatArray(), b.addPerChannel(img, temb).toFloatArray(), 0);

        Tensor table = uniform(r, -1, 1, 50, 19);
        int[] ids = {49, 0, 3, 3, 17};
        Compare.assertClose("embedding " + mode(vector), REF.embedding(table, ids).toFloatArray(), b.embedding(table, ids).toFloatArray(), 0);
        Compare.assertShape("embedding", new int[] {1, 5, 19}, b.embedding(table, ids).shape());

        float[] ts = {0, 1, 999, 500.5f};
        for (int dim : new int[] {320, 7}) {
            Compare.assertClose("timestepEmbedding " + mode(vector), REF.timestepEmbedding(ts, dim, true, 0).toFloatArray(),
                    b.timestepEmbedding(ts, dim, true, 0).toFloatArray(), 0);
        }
    }

    @Test
    void timestepEmbeddingMatchesDoubleFormula() {
        // float32 arithmetic as diffusers; against a double evaluation the arguments t·freq differ by rounding only
        float[] e = cpu(true).timestepEmbedding(new float[] {999}, 320, true, 0).toFloatArray();
        for (int i = 0; i < 160; i++) {
            double arg = 999 * Math.exp(-Math.log(10000) * i / 160.0);
            double tol = 5e-7 * Math.max(1, arg) + 1e-6; // a few float roundings of the argument
            assertEquals(Math.cos(arg), e[i], tol, "cos column " + i);
            assertEquals(Math.sin(arg), e[160 + i], tol, "sin column " + i);
        }
    }

    // ---------------------------------------------------------------- contracts

    @Test
    void shapeErrorsNameTheOp() {
        Backend b = cpu(true);
        Tensor x = Tensor.allocate(DType.F32, 1, 4, 4, 3);
        Conv2dWeights w = b.prepareConv2d(Tensor.allocate(DType.F32, 8, 5, 3, 3), null);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> b.conv2d(x, w, 1, Padding.same(1)));
        assertTrue(e.getMessage().startsWith("conv2d") && e.getMessage().contains("[1, 4, 4, 3]"), e.getMessage());
        Conv2dWeights wr = REF.prepareConv2d(Tensor.allocate(DType.F32, 8, 3, 3, 3), null);
        assertThrows(IllegalArgumentException.class, () -> b.conv2d(x, wr, 1, Padding.same(1)));
        e = assertThrows(IllegalArgumentException.class, () -> b.add(x, Tensor.allocate(DType.F32, 1, 4, 3, 4)));
        assertTrue(e.getMessage().startsWith("add"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> b.attention(Tensor.allocate(DType.F32, 1, 3, 8), Tensor.allocate(DType.F32, 1, 4, 8), Tensor.allocate(DType.F32, 1, 5, 8), 2, 1f, false));
        assertTrue(e.getMessage().startsWith("attention"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> b.groupNorm(x, 2, Tensor.allocate(DType.F32, 3), Tensor.allocate(DType.F32, 3), 1e-5f, false));
        assertThrows(IllegalArgumentException.class, () -> b.linear(x, b.prepareLinear(Tensor.allocate(DType.F32, 2, 4), null)));
        assertThrows(IllegalArgumentException.class, () -> b.geglu(Tensor.allocate(DType.F32, 2, 3)));
        assertThrows(IllegalArgumentException.class, () -> b.sliceChannels(x, 2, 2));
        assertThrows(IllegalArgumentException.class, () -> b.embedding(Tensor.allocate(DType.F32, 4, 2), new int[] {4}));
        assertThrows(IllegalArgumentException.class, () -> b.add(x, Tensor.allocate(DType.F16, 1, 4, 4, 3)));
    }

    @Test
    void describeNamesThreadsAndVectors() {
        String d = cpu(true).describe();
        assertTrue(d.startsWith("CPU: " + Parallel.THREADS + " threads, ") && d.contains("floats"), d);
        assertTrue(cpu(false).describe().contains("scalar"), cpu(false).describe());
    }

    @Test
    void concurrentCallersGetTheSameResults() throws Exception {
        CpuBackend b = cpu(true);
        Random r = new Random(19);
        Tensor x = uniform(r, -1, 1, 1, 16, 16, 32);
        Conv2dWeights w = b.prepareConv2d(uniform(r, -0.1f, 0.1f, 64, 32, 3, 3), null);
        float[] expected = b.conv2d(x, w, 1, Padding.same(1)).toFloatArray();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<float[]>> fs = new ArrayList<>();
            for (int i = 0; i < 8; i++) fs.add(pool.submit((Callable<float[]>) () -> b.conv2d(x, w, 1, Padding.same(1)).toFloatArray()));
            for (Future<float[]> f : fs) Compare.assertClose("concurrent conv2d", expected, f.get(), 0);
        } finally {
            pool.shutdownNow();
        }
        // nested parallelFor from inside a body must not deadlock
        int[] count = new int[16];
        Parallel.parallelFor(4, i -> Parallel.parallelFor(4, j -> count[i * 4 + j]++));
        for (int c : count) assertEquals(1, c);
    }
}
