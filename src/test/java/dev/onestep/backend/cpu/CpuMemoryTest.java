package dev.onestep.backend.cpu;

import dev.onestep.backend.Conv2dWeights;
import dev.onestep.backend.Padding;
import dev.onestep.tensor.DType;
import dev.onestep.tensor.Tensor;
import dev.onestep.testutil.Compare;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

import static dev.onestep.backend.cpu.OpTestSupport.uniform;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The buffer pool (reuse without stale data) and the exact half-precision widening the GEMM does per panel. */
class CpuMemoryTest {
    private static final ReferenceBackend REF = new ReferenceBackend();

    /**
     * Idle buffers past the idle cap are unmapped only while the pool holds more than its live peak: what the pass's
     * peak needed stays mapped for the next pass (which would otherwise map and fault it in again), and the pool's
     * peak (live + idle) does not grow.
     */
    @Test
    void idleBuffersWithinTheLivePeakStayMapped() {
        BufferPool pool = new BufferPool(0); // no idle cap at all: only the live-peak rule keeps buffers
        Tensor a = pool.tensor(DType.F32, false, 4096), b = pool.tensor(DType.F32, false, 2048); // 16 KB + 8 KB live
        long peak = pool.peakBytes();
        assertEquals(24 << 10, peak);
        a.close();
        b.close();
        assertEquals(24 << 10, pool.idleBytes(), "within the live peak: both kept although the idle cap is 0");
        Tensor c = pool.tensor(DType.F32, false, 4096);   // reuses a's buffer
        assertEquals(16 << 10, pool.liveBytes());
        assertEquals(8 << 10, pool.idleBytes());
        Tensor d = pool.tensor(DType.F32, false, 16384);  // 64 KB: b's 8 KB buffer is too small, a new one
        assertEquals(80 << 10, pool.liveBytes());
        c.close();
        d.close();
        assertEquals(80 << 10, pool.idleBytes(), "the live peak is now 80 KB: all 88 KB minus what exceeds it");
        assertTrue(pool.stats().startsWith("pool: 1 hits, 3 new buffers"), pool.stats());
        pool.close();
        assertEquals(0, pool.idleBytes());
    }

    @Test
    void pooledBuffersAreReusedAndOutputsFullyOverwritten() {
        CpuBackend b = new CpuBackend(true);
        Random r = new Random(21);
        Tensor w = uniform(r, -0.2f, 0.2f, 9, 5, 3, 3), bias = uniform(r, -1, 1, 9);
        Conv2dWeights wc = b.prepareConv2d(w, bias), wr = REF.prepareConv2d(w, bias);
        Tensor x1 = uniform(r, -1, 1, 1, 7, 6, 5), x2 = uniform(r, -1, 1, 1, 7, 6, 5);
        Tensor y1 = b.conv2d(x1, wc, 1, Padding.same(1));
        long addr = y1.data().address();
        y1.close();
        Tensor y2 = b.conv2d(x2, wc, 1, Padding.same(1));
        assertEquals(addr, y2.data().address(), "a closed output's buffer serves the next request of its size");
        Tensor want = REF.conv2d(x2, wr, 1, Padding.same(1));
        Compare.assertClose("conv2d into a reused buffer", want.toFloatArray(), y2.toFloatArray(), 2e-6 * Math.sqrt(45), 1e-5);
        // every op into a dirty buffer, then zeros() into a dirty buffer
        for (int i = 0; i < 3; i++) {
            Tensor s = b.silu(x2);
            Compare.assertClose("silu into a reused buffer", REF.silu(x2).toFloatArray(), s.toFloatArray(), 1e-6, 1e-6);
            s.close();
        }
        y2.close();
        Tensor z = b.zeros(1, 7, 6, 9);
        for (float v : z.toFloatArray()) assertEquals(0f, v);
        assertTrue(b.peakMemoryBytes() >= 7 * 6 * 9 * 4, "peak counts pooled buffers");
        z.close();
        b.close();
        x1.close();
        x2.close();
    }

    @Test
    void takeAsKeepsThePoolReleaser() {
        CpuBackend b = new CpuBackend(true);
        Tensor t = b.zeros(4, 6);
        long addr = t.data().address();
        Tensor u = t.takeAs(24);
        assertTrue(t.isClosed());
        u.close();
        try (Tensor again = b.zeros(24)) {
            assertEquals(addr, again.data().address());
        }
    }

    @Test
    void halfWideningIsExactForEveryBitPattern() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(2 * 65536 + 6);
            for (int i = 0; i < 65536; i++) seg.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, (short) i);
            float[] f16 = new float[65536], bf16 = new float[65536];
            Half.f16ToF32(seg, 0, f16, 65536);
            Half.bf16ToF32(seg, 0, bf16, 65536);
            for (int i = 0; i < 65536; i++) {
                float want = Float.float16ToFloat((short) i);
                if (Float.isNaN(want)) // quieting may differ between the interpreter and the intrinsic; payload and sign may not
                    assertEquals(Float.floatToRawIntBits(want) | 0x400000, Float.floatToRawIntBits(f16[i]) | 0x400000, "f16 NaN bits " + i);
                else assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(f16[i]), "f16 bits " + i);
                assertEquals(Float.floatToRawIntBits(DType.bf16ToF32((short) i)), Float.floatToRawIntBits(bf16[i]), "bf16 bits " + i);
            }
            // odd lengths and offsets take the scalar tail
            float[] tail = new float[37];
            Half.f16ToF32(seg, 2 * 1001, tail, 37);
            for (int i = 0; i < 37; i++) assertEquals(Float.float16ToFloat((short) (1001 + i)), tail[i]);
        }
    }

    @Test
    void halfWeightsScalarAndVectorAgree() {
        Random r = new Random(22);
        for (DType dt : new DType[] {DType.F16, DType.BF16}) {
            Tensor w = OpTestSupport.narrow(uniform(r, -0.3f, 0.3f, 70, 130), dt);
            Tensor x = uniform(r, -1, 1, 13, 130);
            CpuBackend v = new CpuBackend(true), s = new CpuBackend(false);
            float[] fv = v.linear(x, v.prepareLinear(w, null)).toFloatArray();
            float[] fs = s.linear(x, s.prepareLinear(w, null)).toFloatArray();
            float[] fr = REF.linear(x, REF.prepareLinear(w, null)).toFloatArray();
            Compare.assertClose(dt + " vector vs reference", fr, fv, 2e-6 * Math.sqrt(130), 1e-5);
            Compare.assertClose(dt + " scalar vs reference", fr, fs, 2e-6 * Math.sqrt(130), 1e-5);
        }
    }
}
