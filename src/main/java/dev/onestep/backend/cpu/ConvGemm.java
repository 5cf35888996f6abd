package dev.onestep.backend.cpu;

import dev.onestep.backend.Padding;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * NHWC convolution as an implicit GEMM: row m = output pixel (n, oy, ox), column k = (ky, kx, ci), matching
 * the packed weights' K order [kh·kw·I]. A blocks are gathered straight from the input into the GEMM's per-thread
 * buffer, one contiguous channel run per (pixel, tap), zeros where the tap falls in the padding. Convolutions with a
 * short K (few input channels) or few output channels are handed to {@link ConvDirect}, 3×3 stride-1 ones over enough
 * pixels to {@link ConvWinograd}.
 */
final class ConvGemm {
    private ConvGemm() {}

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;

    /**
     * K blocks aligned to taps so each block is one contiguous K range: several whole taps when the channels are
     * few, otherwise one tap's channels split evenly into chunks of at most KC. Returns {k0, kc, tap0, taps, c0, cLen}.
     */
    static int[][] kBlocks(int taps, int channels) {
        List<int[]> out = new ArrayList<>();
        if (channels <= Gemm.KC) {
            int perBlock = Math.max(1, Gemm.KC / channels);
            int blocks = (taps + perBlock - 1) / perBlock;
            perBlock = (taps + blocks - 1) / blocks; // even out
            for (int t0 = 0; t0 < taps; t0 += perBlock) {
                int nt = Math.min(perBlock, taps - t0);
                out.add(new int[] {t0 * channels, nt * channels, t0, nt, 0, channels});
            }
        } else {
            int chunks = (channels + Gemm.KC - 1) / Gemm.KC;
            int size = (channels + chunks - 1) / chunks;
            for (int t = 0; t < taps; t++)
                for (int c0 = 0; c0 < channels; c0 += size) {
                    int cl = Math.min(size, channels - c0);
                    out.add(new int[] {t * channels + c0, cl, t, 1, c0, cl});
                }
        }
        return out.toArray(int[][]::new);
    }

    /** y [N, OH, OW, O] = conv(x [N, H, W, I]) with packed weights [kh·kw·I, O]. */
    static void run(MemorySegment x, int n, int h, int w, int ci, int kh, int kw, int stride, Padding pad,
                    Gemm.Packed weights, MemorySegment y, int oh, int ow, boolean vector) {
        run(x, n, h, w, ci, null, null, kh, kw, stride, pad, weights, y, oh, ow, vector);
    }

    /**
     * The same over a virtual input of h × w pixels whose row iy is source row {@code rowMap[iy]} and column ix source
     * column {@code colMap[ix]} of x (x then has {@code srcH} = max(rowMap)+1 rows…); null maps mean x is the input.
     * Nearest up-sampling fused into the conv: the gather reads the small tensor, the up-sampled one never exists.
     */
    static void run(MemorySegment x, int n, int h, int w, int ci, int[] rowMap, int[] colMap, int kh, int kw, int stride,
                    Padding pad, Gemm.Packed weights, MemorySegment y, int oh, int ow, boolean vector) {
        int m = n * oh * ow;
        boolean mapped = rowMap != null;
        int srcH = mapped ? rowMap[h - 1] + 1 : h, srcW = mapped ? colMap[w - 1] + 1 : w;
        // shapes a 12 × 32 GEMM tile serves badly: a few output channels (padded to 32) or a very short K
        if (ConvDirect.fewOutputs(weights.n, ci, m, kh * kw * ci)) {
            ConvDirect.fewOutputs(x, n, h, w, ci, rowMap, colMap, kh, kw, stride, pad, weights, y, oh, ow, vector);
            return;
        }
        if (ConvDirect.fewInputs(kh * kw * ci)) {
            ConvDirect.fewInputs(x, n, h, w, ci, rowMap, colMap, kh, kw, stride, pad, weights, y, oh, ow, vector);
            return;
        }
        if (ConvWinograd.applies(kh, kw, stride, ci, weights.n, n, oh, ow)) {
            ConvWinograd.run(x, n, h, w, ci, rowMap, colMap, pad, weights, y, oh, ow, vector);
            return;
        }
        if (!mapped && kh == 1 && kw == 1 && stride == 1 && pad.equals(Padding.NONE)) {
            Gemm.run(m, weights, Gemm.matrix(x, ci), Gemm.uniformKBlocks(ci), y, vector);
            return;
        }
        int[][] blocks = kBlocks(kh * kw, ci);
        // map a block's k0 back to its tap/channel description (kc alone is not unique)
        Gemm.ASource src = (m0, rows, k0, kc, dst) -> {
            int[] blk = find(blocks, k0);
            int tap0 = blk[2], taps = blk[3], c0 = blk[4], cl = blk[5];
            // whole channels per tap and no index maps: the taps of one kernel row at stride 1 are adjacent input pixels,
            // so each in-bounds run of them is one contiguous copy (kw× fewer copies; 3 instead of 9 per pixel at 3×3)
            boolean runs = !mapped && stride == 1 && cl == ci && kw > 1;
            for (int r = 0; r < rows; r++) {
                int mm = m0 + r;
                int ox = mm % ow, rest = mm / ow, oy = rest % oh, b = rest / oh;
                int dOff = r * kc;
                if (runs) {
                    int t = tap0, tEnd = tap0 + taps;
                    while (t < tEnd) {
                        int ky = t / kw, kx = t % kw;
                        int nt = Math.min(kw - kx, tEnd - t); // taps left in this kernel row
                        int iy = oy - pad.top() + ky, ix = ox - pad.left() + kx;
                        if (iy < 0 || iy >= h) {
                            Arrays.fill(dst, dOff, dOff + nt * ci, 0f);
                        } else {
                            int lo = Math.max(0, -ix), hi = Math.min(nt, w - ix); // in-bounds taps [lo, hi)
                            if (hi <= lo) {
                                Arrays.fill(dst, dOff, dOff + nt * ci, 0f);
                            } else {
                                if (lo > 0) Arrays.fill(dst, dOff, dOff + lo * ci, 0f);
                                long off = (((long) b * h + iy) * w + ix + lo) * ci * 4L;
                                MemorySegment.copy(x, F, off, dst, dOff + lo * ci, (hi - lo) * ci);
                                if (hi < nt) Arrays.fill(dst, dOff + hi * ci, dOff + nt * ci, 0f);
                            }
                        }
                        t += nt;
                        dOff += nt * ci;
                    }
                    continue;
                }
                for (int t = tap0; t < tap0 + taps; t++, dOff += cl) {
                    int iy = oy * stride - pad.top() + t / kw;
                    int ix = ox * stride - pad.left() + t % kw;
                    if (iy < 0 || iy >= h || ix < 0 || ix >= w) {
                        Arrays.fill(dst, dOff, dOff + cl, 0f);
                    } else {
                        int sy = mapped ? rowMap[iy] : iy, sx = mapped ? colMap[ix] : ix;
                        long off = ((((long) b * srcH + sy) * srcW + sx) * ci + c0) * 4;
                        MemorySegment.copy(x, F, off, dst, dOff, cl);
                    }
                }
            }
        };
        int[][] kb = new int[blocks.length][];
        for (int i = 0; i < blocks.length; i++) kb[i] = new int[] {blocks[i][0], blocks[i][1]};
        Gemm.run(m, weights, src, kb, y, vector);
    }

    private static int[] find(int[][] blocks, int k0) {
        for (int[] b : blocks) if (b[0] == k0) return b;
        throw new IllegalStateException("no K block at " + k0);
    }
}
