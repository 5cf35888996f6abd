package dev.onestep.backend.cuda;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * A caching device allocator: blocks are rounded up to a size class and kept in per-class free lists when their
 * tensor is closed, so once a forward pass has run once (warm) the next one finds every block it needs and calls
 * the driver's allocator not at all. Stream-ordered reuse is safe because the backend issues all work on one
 * stream: a block released while kernels still read it is only handed to kernels queued after them.
 *
 * <p>Size classes: 512 bytes and below → 512; above, four classes per power of two (2^k·{1.25, 1.5, 1.75, 2}),
 * so rounding wastes under 25%. Persistent allocations (weights) bypass the classes: exact size, freed to the
 * driver when closed, counted separately.
 *
 * <p>On an out-of-memory error the pool frees its cached blocks (after synchronising, so no queued kernel still
 * uses one) and retries once. Pure Java over {@link Allocator}: the tests drive it with a fake.
 */
public final class DevicePool implements AutoCloseable {

    /** What the pool needs from the device. */
    public interface Allocator {
        /** A new block of exactly {@code bytes}; throws {@link OutOfDeviceMemory} when the device is full. */
        long allocate(long bytes);

        void free(long address);

        /** Waits for all queued work (before cached blocks are returned to the driver). */
        void synchronize();
    }

    /** The device has no memory left for a block (the allocator's signal; the pool then trims and retries). */
    public static final class OutOfDeviceMemory extends RuntimeException {
        public OutOfDeviceMemory(String message, Throwable cause) { super(message, cause); }
    }

    private final Allocator allocator;
    private final TreeMap<Long, ArrayDeque<Long>> free = new TreeMap<>();
    private final Map<Long, Long> live = new HashMap<>();        // address → class size
    private final Map<Long, Long> persistent = new HashMap<>();  // address → bytes
    private long inUse, peakInUse, cached, persistentBytes, driverAllocations, reuses, peakHeld;
    private boolean closed;

    // Debugging aid (-Donestep.cuda.poolExact=true): every acquire is its own exact-size driver allocation, freed on
    // release, so an out-of-bounds access lands outside any allocation (compute-sanitizer, or the CPU emulator's
    // guard pages: ONESTEP_CUDAEMU_GUARD=1) instead of in a larger size-class block. Not for production: the
    // forward pass then calls cuMemAlloc/cuMemFree per tensor.
    private final boolean exact;

    public DevicePool(Allocator allocator) { this(allocator, Boolean.getBoolean("onestep.cuda.poolExact")); }

    DevicePool(Allocator allocator, boolean exact) {
        this.allocator = allocator;
        this.exact = exact;
    }

    /** Whether this pool hands out exact-size, uncached blocks (-Donestep.cuda.poolExact=true). */
    public boolean exact() { return exact; }

    /** The size class for a request: ≥ bytes, < 1.25·bytes above 512. */
    public static long sizeClass(long bytes) {
        if (bytes < 0) throw new IllegalArgumentException("negative size " + bytes);
        if (bytes <= 512) return 512;
        int k = 63 - Long.numberOfLeadingZeros(bytes - 1); // 2^k < bytes ≤ 2^(k+1)
        long step = 1L << (k - 2);                            // 2^k · {1.25, 1.5, 1.75, 2}
        return Math.ceilDiv(bytes, step) * step;
    }

    /** A block of at least {@code bytes} for activations or scratch; give it back with {@link #release}. */
    public synchronized long acquire(long bytes) {
        ensureOpen();
        long size = exact ? Math.max(bytes, 1) : sizeClass(bytes);
        ArrayDeque<Long> list = exact ? null : free.get(size);
        long address;
        if (list != null && !list.isEmpty()) {
            address = list.pop();
            cached -= size;
            reuses++;
        } else {
            address = allocateRetrying(size);
        }
        live.put(address, size);
        inUse += size;
        peakInUse = Math.max(peakInUse, inUse);
        notePeakHeld();
        return address;
    }

    /** Returns a block from {@link #acquire} to its free list. After {@link #close} this forgets it. */
    public synchronized void release(long address) {
        Long size = live.remove(address);
        if (closed) return;
        if (size == null) throw new IllegalStateException("release of unknown device block 0x" + Long.toHexString(address));
        inUse -= size;
        if (exact) {
            allocator.free(address);
            return;
        }
        free.computeIfAbsent(size, s -> new ArrayDeque<>()).push(address);
        cached += size;
    }

    /** An exact-size block that lives until {@link #releasePersistent} (weights). */
    public synchronized long acquirePersistent(long bytes) {
        ensureOpen();
        long address = allocateRetrying(Math.max(bytes, 1));
        persistent.put(address, bytes);
        persistentBytes += bytes;
        notePeakHeld();
        return address;
    }

    public synchronized void releasePersistent(long address) {
        Long bytes = persistent.remove(address);
        if (closed) return;
        if (bytes == null) throw new IllegalStateException("release of unknown persistent block 0x" + Long.toHexString(address));
        persistentBytes -= bytes;
        allocator.free(address);
    }

    private long allocateRetrying(long size) {
        try {
            driverAllocations++;
            return allocator.allocate(size);
        } catch (OutOfDeviceMemory first) {
            if (cached == 0) throw oom(size, first);
            trim();
            try {
                return allocator.allocate(size);
            } catch (OutOfDeviceMemory second) {
                throw oom(size, second);
            }
        }
    }

    private OutOfDeviceMemory oom(long size, OutOfDeviceMemory cause) {
        return new OutOfDeviceMemory(String.format("out of device memory allocating %,d bytes: %,d in use by tensors, %,d by weights, "
                + "peak %,d (%s)", size, inUse, persistentBytes, peakInUse, cause.getMessage()), cause);
    }

    /** Frees every cached (unused) block back to the driver. */
    public synchronized void trim() {
        if (cached == 0) return;
        allocator.synchronize();
        for (Map.Entry<Long, ArrayDeque<Long>> e : free.entrySet())
            for (long a : e.getValue()) allocator.free(a);
        free.clear();
        cached = 0;
    }

    /** Bytes held by live tensors and scratch blocks (class sizes). */
    public synchronized long inUseBytes() { return inUse; }

    /** The most {@link #inUseBytes} has been. */
    public synchronized long peakInUseBytes() { return peakInUse; }

    /** Bytes in the free lists, held from the driver but unused. */
    public synchronized long cachedBytes() { return cached; }

    public synchronized long persistentBytes() { return persistentBytes; }

    /** Bytes held from the driver now: live blocks, cached blocks and persistent (weight) blocks. */
    public synchronized long heldBytes() { return inUse + cached + persistentBytes; }

    /** The most {@link #heldBytes} has been: the device memory this pool ever needed at once. */
    public synchronized long peakHeldBytes() { return peakHeld; }

    private void notePeakHeld() { peakHeld = Math.max(peakHeld, inUse + cached + persistentBytes); }

    /** Calls to the driver's allocator so far (a warm forward pass adds none). */
    public synchronized long driverAllocations() { return driverAllocations; }

    /** Acquisitions served from a free list. */
    public synchronized long reuses() { return reuses; }

    public synchronized void resetPeak() { peakInUse = inUse; }

    private void ensureOpen() {
        if (closed) throw new IllegalStateException("device pool is closed");
    }

    /** Frees cached blocks and persistent ones still held; blocks of live tensors are freed with the context. */
    @Override
    public synchronized void close() {
        if (closed) return;
        trim();
        for (long a : persistent.keySet()) allocator.free(a);
        for (long a : live.keySet()) allocator.free(a);
        persistent.clear();
        live.clear();
        closed = true;
    }
}
