package dev.onestep.backend.cpu;

import dev.onestep.backend.Conv2dWeights;
import dev.onestep.backend.Padding;
import dev.onestep.tensor.DType;
import dev.onestep.tensor.Tensor;
import dev.onestep.testutil.Compare;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Random;

import static dev.onestep.backend.cpu.OpTestSupport.uniform;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
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
        BufferPool pool = new BufferPool(0, 0); // no region, no idle cap at all: only the live-peak rule keeps buffers
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
        assertTrue(pool.stats().contains("buffers: 1 hits, 3 new,"), pool.stats());
        pool.close();
        assertEquals(0, pool.idleBytes());
    }

    /** Best fit, splitting, merging with both neighbours, the top lowered by a free at the top, and a full range. */
    @Test
    void regionAllocatorBestFitSplitsAndMerges() {
        RegionAllocator r = new RegionAllocator(100);
        long a = r.allocate(10), b = r.allocate(20), c = r.allocate(30), d = r.allocate(5);
        assertEquals(List.of(0L, 10L, 30L, 60L), List.of(a, b, c, d));
        assertEquals(65, r.top());
        r.free(a, 10);
        r.free(c, 30);                                   // free: [0,10) and [30,60)
        assertEquals(2, r.fragments());
        assertEquals(0, r.allocate(8), "best fit: the 10-byte hole, not the 30-byte one");
        assertEquals(30, r.allocate(25), "the 30-byte hole, split");
        assertEquals(-1, r.allocate(36), "35 bytes above top, and no hole that large");
        assertEquals(65, r.allocate(35), "exactly what is left above top");
        assertEquals(100, r.touched());
        r.free(65, 35);
        assertEquals(65, r.top(), "a free at the top lowers the top");
        r.free(0, 8);
        r.free(30, 25);
        r.free(b, 20);                                   // merges [0,8) + [8,10) + [10,30) + [30,55) + [55,60)
        assertEquals(1, r.fragments());
        assertEquals(5, r.live());
        r.free(d, 5);                                    // and with the top: empty
        assertEquals(0, r.top());
        assertEquals(0, r.fragments());
        assertEquals(100, r.touched(), "touched stays until released");
        assertEquals(List.of(List.of(0L, 100L)), r.releaseFree().stream().map(x -> List.of(x[0], x[1])).toList());
        assertEquals(0, r.touched());
        assertThrows(IllegalArgumentException.class, () -> r.free(0, 10), "nothing allocated");
        long e = r.allocate(10);
        r.free(e, 10);
        r.allocate(4);
        assertThrows(IllegalStateException.class, () -> {
            r.allocate(6);
            r.free(0, 4);
            r.free(0, 4);
        }, "double free");
    }

    /**
     * Random allocate/free sequences against a brute-force model of the range: blocks never overlap, each request gets
     * the smallest gap between live blocks that holds it (the lowest on a tie) or else the space above the last live
     * block, and −1 only when neither holds it.
     */
    @Test
    void regionAllocatorMatchesABruteForceModel() {
        Random rnd = new Random(23);
        for (int trial = 0; trial < 20; trial++) {
            long capacity = 1000 + rnd.nextInt(1000);
            RegionAllocator r = new RegionAllocator(capacity);
            java.util.TreeMap<Long, Long> live = new java.util.TreeMap<>(); // offset → size
            for (int step = 0; step < 2000; step++) {
                if (!live.isEmpty() && rnd.nextInt(5) < 2) {
                    Long[] keys = live.keySet().toArray(new Long[0]);
                    long off = keys[rnd.nextInt(keys.length)];
                    r.free(off, live.remove(off));
                    continue;
                }
                long size = 1 + rnd.nextInt(rnd.nextBoolean() ? 20 : 300);
                // the model: gaps between live blocks in address order, then the space above the last one
                long bestOff = -1, bestSize = Long.MAX_VALUE, end = 0;
                for (var e : live.entrySet()) {
                    long gap = e.getKey() - end;
                    if (gap >= size && gap < bestSize) {
                        bestSize = gap;
                        bestOff = end;
                    }
                    end = e.getKey() + e.getValue();
                }
                if (bestOff < 0 && capacity - end >= size) bestOff = end;
                long got = r.allocate(size);
                assertEquals(bestOff, got, "trial " + trial + " step " + step + ": request " + size);
                if (got >= 0) live.put(got, size);
                long sum = live.values().stream().mapToLong(Long::longValue).sum();
                assertEquals(sum, r.live());
                long last = live.isEmpty() ? 0 : live.lastKey() + live.lastEntry().getValue();
                assertEquals(last, r.top(), "top: the end of the last live block");
                assertTrue(r.touched() >= r.top() && r.touched() <= capacity);
            }
        }
    }

    /**
     * The region pool: blocks reused without stale data (zero requests cleared, fresh space not rewritten), the peak is
     * the touched range, and a request larger than the region falls back to a buffer of its own.
     */
    @Test
    void regionPoolReusesBlocksAndFallsBackWhenFull() {
        BufferPool pool = new BufferPool(0, 1 << 20);
        Assumptions.assumeTrue(pool.hasRegion(), "no region on this OS (not Linux, or native access denied): the buffer path is tested above");
        Tensor a = pool.tensor(DType.F32, false, 4096);    // 16 KB at the bottom
        a.data().fill((byte) 7);
        long addr = a.data().address();
        a.close();
        Tensor z = pool.tensor(DType.F32, true, 1024);     // 4 KB zero request in the dirty block
        assertEquals(addr, z.data().address(), "the freed block serves the next request");
        for (float v : z.toFloatArray()) assertEquals(0f, v);
        Tensor b = pool.tensor(DType.F32, false, 2048);    // next to it (a's free lowered the top back to 0)
        assertEquals(addr + 4096, b.data().address());
        b.data().fill((byte) 7);
        assertEquals(16 << 10, pool.regionTouchedBytes());
        Tensor fresh = pool.tensor(DType.F32, true, 8192);  // [12 KB, 44 KB): its first 4 KB dirty (cleared), the rest never written
        assertEquals(addr + (12 << 10), fresh.data().address());
        for (float v : fresh.toFloatArray()) assertEquals(0f, v);
        assertEquals(44 << 10, pool.regionTouchedBytes());
        assertEquals(44 << 10, pool.peakBytes());
        Tensor big = pool.tensor(DType.F32, true, 1 << 20); // 4 MB > the 1 MB region: a buffer of its own
        assertEquals(1, java.util.stream.Stream.of(pool.stats()).filter(s -> s.contains("1 new")).count(), pool.stats());
        assertEquals((44 << 10) + (4 << 20), pool.liveBytes());
        for (Tensor t : List.of(z, b, fresh, big)) t.close();
        assertEquals(0, pool.liveBytes());
        pool.trim();
        assertEquals(0, pool.regionTouchedBytes(), "trim gives the free pages back");
        Tensor again = pool.tensor(DType.F32, true, 4096);
        for (float v : again.toFloatArray()) assertEquals(0f, v);
        pool.close();
        again.close();
        Tensor after = pool.tensor(DType.F32, true, 16);   // a closed pool still serves, from buffers
        assertEquals(0f, after.toFloatArray()[15]);
        after.close();
    }

    /** Mapped weight memory (or its arena fallback): the exact size, zeroed, writable, gone with its arena. */
    @Test
    void mappedAllocationsAreZeroedAndFreedWithTheirArena() {
        for (long bytes : new long[] {100, MappedMemory.MIN_MAPPED_BYTES + 12}) {
            Arena arena = Arena.ofShared();
            MemorySegment m = MappedMemory.allocate(arena, bytes);
            assertEquals(bytes, m.byteSize());
            for (long i = 0; i < bytes; i += 4093) assertEquals(0, m.get(ValueLayout.JAVA_BYTE, i));
            m.set(ValueLayout.JAVA_BYTE, bytes - 1, (byte) 5);
            assertEquals(5, m.get(ValueLayout.JAVA_BYTE, bytes - 1));
            arena.close();
            assertTrue(!m.scope().isAlive(), "freed with its arena");
        }
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
