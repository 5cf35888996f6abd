package dev.onestep.backend.cpu;

import dev.onestep.tensor.DType;
import dev.onestep.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.Map;
import java.util.TreeMap;

/**
 * The CPU backend's activation memory: off-heap buffers reused by lifetime instead of a fresh (page-faulting,
 * zero-filled) allocation per op.
 *
 * <p>A tensor handed out by {@link #tensor} returns its buffer here when closed. A request takes the smallest idle
 * buffer whose capacity is at least the request and at most {@link #MAX_SLACK}× it (best fit); otherwise a new buffer
 * of exactly the request (rounded up to 4 KiB) is mapped. Idle buffers beyond {@code idleCap} bytes are unmapped, oldest
 * first, so memory the network no longer uses goes back to the OS — but never while the pool (live + idle) is within
 * the most it has ever had live: that memory was resident at the pass's peak anyway, and unmapping it only makes the next
 * pass map, zero-fill and fault it in again (≈ 135 ms per 201 MB buffer on a 2-core VM). At 768² this halved the
 * buffers mapped anew per steady-state pass (4.2 → 2.0 GB; docs/PERF.md round 5). The pool's bound is unchanged: at
 * most max(live peak, live + idleCap) at any time. Buffers are NOT cleared on reuse: callers either
 * overwrite every element or ask for {@code zero}.
 *
 * <p>Thread-safe (tensors may be closed on any thread). {@link #peakBytes()} is the most this pool has held at once,
 * live plus idle: the activation part of the process's resident memory.
 */
final class BufferPool {
    /**
     * A buffer serves requests down to 1/MAX_SLACK of its capacity: {@code -Donestep.cpu.poolSlack} (default 2.0). At
     * 1.25 the 768² pass's 604 MB decoder buffers stopped being taken by 302 MB requests and re-mapped (one GroupNorm
     * call 2.1 → 0.8 s) for +0.36 GB peak RSS (docs/PERF.md round 6); not the default.
     */
    static final double MAX_SLACK = Double.parseDouble(System.getProperty("onestep.cpu.poolSlack", "2.0"));
    private static final long PAGE = 4096;

    private static final class Buffer {
        final Arena arena;
        final MemorySegment segment;
        long idleSince;

        Buffer(long capacity) {
            arena = Arena.ofShared();
            segment = arena.allocate(capacity, 64);
        }

        long capacity() { return segment.byteSize(); }
    }

    private final long idleCap;
    private final TreeMap<Long, ArrayDeque<Buffer>> idle = new TreeMap<>();
    private long idleBytes, liveBytes, peakBytes, peakLive, clock;
    private long hits, misses;
    private boolean closed;

    /** @param idleCap bytes of idle buffers kept for reuse (more is unmapped, oldest first) */
    BufferPool(long idleCap) {
        this.idleCap = idleCap;
    }

    /** A host tensor of {@code dtype} and {@code shape} over a pooled buffer; zero-filled only when {@code zero}. */
    Tensor tensor(DType dtype, boolean zero, int... shape) {
        long bytes = Tensor.numel(shape) * dtype.byteSize();
        if (bytes == 0) return Tensor.allocate(dtype, shape);
        Buffer b = take(bytes);
        if (zero) b.segment.asSlice(0, bytes).fill((byte) 0);
        return Tensor.host(b.segment, dtype, () -> give(b), shape);
    }

    private synchronized Buffer take(long bytes) {
        long need = (bytes + PAGE - 1) / PAGE * PAGE;
        Map.Entry<Long, ArrayDeque<Buffer>> e = idle.ceilingEntry(need);
        Buffer b = null;
        if (e != null && e.getKey() <= need * MAX_SLACK) {
            b = e.getValue().pollLast(); // most recently used: likeliest still in cache
            if (e.getValue().isEmpty()) idle.remove(e.getKey());
            idleBytes -= b.capacity();
            hits++;
        }
        if (b == null) {
            misses++;
            b = new Buffer(need);
        }
        liveBytes += b.capacity();
        peakLive = Math.max(peakLive, liveBytes);
        peakBytes = Math.max(peakBytes, liveBytes + idleBytes);
        return b;
    }

    private synchronized void give(Buffer b) {
        liveBytes -= b.capacity();
        if (closed) {
            b.arena.close();
            return;
        }
        b.idleSince = ++clock;
        idle.computeIfAbsent(b.capacity(), c -> new ArrayDeque<>()).addLast(b);
        idleBytes += b.capacity();
        while (idleBytes > idleCap && liveBytes + idleBytes > peakLive) evictOldest();
    }

    private void evictOldest() {
        Buffer oldest = null;
        for (ArrayDeque<Buffer> q : idle.values()) {
            Buffer f = q.peekFirst();
            if (f != null && (oldest == null || f.idleSince < oldest.idleSince)) oldest = f;
        }
        if (oldest == null) return;
        ArrayDeque<Buffer> q = idle.get(oldest.capacity());
        q.pollFirst();
        if (q.isEmpty()) idle.remove(oldest.capacity());
        idleBytes -= oldest.capacity();
        oldest.arena.close();
    }

    /** Unmaps every idle buffer, and from now on every buffer as it is released. */
    synchronized void close() {
        trim();
        closed = true;
    }

    /** Unmaps every idle buffer. */
    synchronized void trim() {
        for (Iterator<ArrayDeque<Buffer>> it = idle.values().iterator(); it.hasNext(); ) {
            for (Buffer b : it.next()) b.arena.close();
            it.remove();
        }
        idleBytes = 0;
    }

    synchronized long peakBytes() { return peakBytes; }

    synchronized long liveBytes() { return liveBytes; }

    synchronized long idleBytes() { return idleBytes; }

    /** Forgets the peak (sets it to what is held now). */
    synchronized void resetPeak() { peakBytes = liveBytes + idleBytes; }

    synchronized String stats() {
        return String.format(java.util.Locale.ROOT, "pool: %d hits, %d new buffers, live %.1f MB, idle %.1f MB, peak %.1f MB",
                hits, misses, liveBytes / 1e6, idleBytes / 1e6, peakBytes / 1e6);
    }
}
