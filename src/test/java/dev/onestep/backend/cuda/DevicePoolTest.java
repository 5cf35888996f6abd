package dev.onestep.backend.cuda;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The caching allocator's logic against a fake device (no GPU needed). */
class DevicePoolTest {

    /** A device of {@code capacity} bytes handing out increasing fake addresses. */
    static final class FakeDevice implements DevicePool.Allocator {
        final long capacity;
        long used, next = 0x7f0000000000L, allocs, frees, syncs;
        final java.util.Map<Long, Long> blocks = new java.util.HashMap<>();

        FakeDevice(long capacity) { this.capacity = capacity; }

        @Override
        public long allocate(long bytes) {
            if (used + bytes > capacity) throw new DevicePool.OutOfDeviceMemory("fake device full", null);
            used += bytes;
            allocs++;
            long a = next;
            next += (bytes + 511) / 512 * 512;
            blocks.put(a, bytes);
            return a;
        }

        @Override
        public void free(long address) {
            Long b = blocks.remove(address);
            if (b == null) throw new IllegalStateException("double free");
            used -= b;
            frees++;
        }

        @Override public void synchronize() { syncs++; }
    }

    @Test
    void sizeClassesRoundUpByLessThanAQuarter() {
        assertEquals(512, DevicePool.sizeClass(0));
        assertEquals(512, DevicePool.sizeClass(1));
        assertEquals(512, DevicePool.sizeClass(512));
        assertEquals(640, DevicePool.sizeClass(513));
        assertEquals(1024, DevicePool.sizeClass(1024));
        assertEquals(1280, DevicePool.sizeClass(1025));
        assertEquals(3L << 20, DevicePool.sizeClass((3L << 20) - 7));
        for (long b = 513; b < 5_000_000; b = b * 3 / 2 + 1) {
            long c = DevicePool.sizeClass(b);
            assertTrue(c >= b && c < b * 1.25 + 1, b + " → " + c);
            assertEquals(c, DevicePool.sizeClass(c), "a class is its own class: " + c);
        }
        assertThrows(IllegalArgumentException.class, () -> DevicePool.sizeClass(-1));
    }

    @Test
    void aWarmRepeatOfTheSameAllocationsCallsTheDriverNoMore() {
        FakeDevice dev = new FakeDevice(1L << 30);
        DevicePool pool = new DevicePool(dev);
        long[] sizes = {1000, 4096 * 320 * 4L, 77 * 1024 * 2, 12, 1000, 9216L * 320 * 2};
        for (int pass = 0; pass < 3; pass++) {
            long[] blocks = new long[sizes.length];
            for (int i = 0; i < sizes.length; i++) blocks[i] = pool.acquire(sizes[i]);
            Set<Long> distinct = new HashSet<>();
            for (long b : blocks) distinct.add(b);
            assertEquals(sizes.length, distinct.size(), "live blocks never alias");
            for (long b : blocks) pool.release(b);
            if (pass == 0) assertEquals(sizes.length, pool.driverAllocations());
        }
        assertEquals(sizes.length, pool.driverAllocations(), "passes 2 and 3 were served from the free lists");
        assertEquals(2L * sizes.length, pool.reuses());
        assertEquals(0, pool.inUseBytes());
        long peak = 0;
        for (long s : sizes) peak += DevicePool.sizeClass(s);
        assertEquals(peak, pool.peakInUseBytes());
        assertEquals(peak, pool.cachedBytes());
    }

    @Test
    void outOfMemoryTrimsTheCacheAndRetriesOnce() {
        FakeDevice dev = new FakeDevice(10_000);
        DevicePool pool = new DevicePool(dev);
        long a = pool.acquire(4000); // class 4096
        long b = pool.acquire(4000);
        pool.release(a);
        pool.release(b);
        assertEquals(8192, pool.cachedBytes());
        long c = pool.acquire(6000);  // class 6144: needs the cached blocks freed
        assertEquals(0, pool.cachedBytes());
        assertTrue(dev.syncs >= 1, "synchronised before freeing cached blocks");
        assertEquals(2, dev.frees);
        DevicePool.OutOfDeviceMemory e = assertThrows(DevicePool.OutOfDeviceMemory.class, () -> pool.acquire(6000));
        assertTrue(e.getMessage().contains("in use by tensors"), e.getMessage());
        pool.release(c);
    }

    @Test
    void persistentBlocksAreExactAndFreedToTheDriver() {
        FakeDevice dev = new FakeDevice(1L << 20);
        DevicePool pool = new DevicePool(dev);
        long w = pool.acquirePersistent(1001);
        assertEquals(1001, dev.used);
        assertEquals(1001, pool.persistentBytes());
        assertEquals(0, pool.inUseBytes(), "weights are not activation memory");
        pool.releasePersistent(w);
        assertEquals(0, dev.used);
        assertThrows(IllegalStateException.class, () -> pool.releasePersistent(w));
    }

    @Test
    void releaseOfAnUnknownBlockFailsAndCloseFreesEverything() {
        FakeDevice dev = new FakeDevice(1L << 20);
        DevicePool pool = new DevicePool(dev);
        long live = pool.acquire(100);
        long cachedBlock = pool.acquire(3000);
        pool.release(cachedBlock);
        pool.acquirePersistent(50);
        assertThrows(IllegalStateException.class, () -> pool.release(live + 8));
        pool.close();
        assertEquals(0, dev.used, "cached, live and persistent blocks all returned");
        pool.release(live); // a tensor closed after the backend: forgotten, not an error
        assertThrows(IllegalStateException.class, () -> pool.acquire(1));
        assertNotEquals(0, dev.frees);
    }

    @Test
    void peakHeldCountsWeightsActivationsAndCacheAndMatchesTheDriver() {
        FakeDevice dev = new FakeDevice(1L << 30);
        try (DevicePool pool = new DevicePool(dev, false)) {
            pool.acquirePersistent(10_000);                    // weights
            long a = pool.acquire(4096), b = pool.acquire(8192);
            assertEquals(10_000 + 4096 + 8192, pool.heldBytes());
            pool.release(a);                                   // cached: still held from the driver
            assertEquals(10_000 + 4096 + 8192, pool.heldBytes());
            long c = pool.acquire(4096);                       // served from the cache: no new device memory
            assertEquals(a, c);
            assertEquals(dev.used, pool.heldBytes(), "held bytes = what the driver handed out");
            pool.acquire(1 << 20);
            assertEquals(dev.used, pool.peakHeldBytes());
            pool.release(b);
            pool.trim();
            assertEquals(dev.used, pool.heldBytes());
            assertEquals(10_000 + 4096 + 8192 + (1 << 20), pool.peakHeldBytes(), "the peak stays after a trim");
        }
    }

    @Test
    void exactModeAllocatesEachTensorAndFreesItOnRelease() {
        FakeDevice dev = new FakeDevice(1L << 30);
        try (DevicePool pool = new DevicePool(dev, true)) {
            assertTrue(pool.exact());
            long a = pool.acquire(1000);
            assertEquals(1000, dev.blocks.get(a), "no size-class rounding");
            pool.release(a);
            assertEquals(0, dev.used);
            assertEquals(1, dev.frees);
            pool.acquire(1000);
            assertEquals(2, dev.allocs, "nothing cached");
        }
    }
}
