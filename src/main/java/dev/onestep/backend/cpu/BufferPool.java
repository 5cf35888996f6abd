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
 * zero-filled) allocation per op. Buffers are NOT cleared on reuse: callers either overwrite every element or ask for
 * {@code zero}.
 *
 * <p>Where the OS gives it ({@link MappedMemory#reserve}: Linux), requests are blocks of one reserved address range,
 * best fit with splitting and merging ({@link RegionAllocator}): the memory the pool touches is then its live peak plus
 * a little fragmentation (768²: 1.825 GB touched for a 1.813 GB live peak), it stays resident between ops and passes,
 * and a pass after the first faults nothing in. Before (per-buffer mapping below), the same pass touched 5.6 GB on its
 * first pass and re-mapped 2.0–2.4 GB on every later one (docs/PERF.md, "Activation memory and the young generation").
 *
 * <p>Elsewhere, and for a request the region cannot hold, each buffer is its own mapping: a request takes the smallest
 * idle buffer whose capacity is at least the request and at most {@link #MAX_SLACK}× it (best fit); otherwise a new
 * buffer of exactly the request (rounded up to 4 KiB) is mapped. Idle buffers beyond {@code idleCap} bytes are unmapped,
 * oldest first — but never while the pool (live + idle) is within the most it has ever had live: that memory was
 * resident at the pass's peak anyway, and unmapping it only makes the next pass map, zero-fill and fault it in again.
 *
 * <p>Thread-safe (tensors may be closed on any thread). {@link #peakBytes()} is the most this pool has held at once
 * (region: touched; buffers: live plus idle): the activation part of the process's resident memory.
 */
final class BufferPool {
    /**
     * A buffer serves requests down to 1/MAX_SLACK of its capacity: {@code -Donestep.cpu.poolSlack} (default 2.0). At
     * 1.25 the 768² pass's 604 MB decoder buffers stopped being taken by 302 MB requests and re-mapped (one GroupNorm
     * call 2.1 → 0.8 s) for +0.36 GB peak RSS (docs/PERF.md, "Winograd convolutions"); not the default.
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
    private final MemorySegment region; // null: buffers only; unmapped by the GC once the pool and its tensors are gone
    private final RegionAllocator blocks;
    private final TreeMap<Long, ArrayDeque<Buffer>> idle = new TreeMap<>();
    private long idleBytes, liveBytes, peakBytes, peakLive, clock;
    private long hits, misses;
    private boolean closed;

    /**
     * @param idleCap     bytes of idle separately mapped buffers kept for reuse (more is unmapped, oldest first)
     * @param regionBytes address space to reserve for the region (0: no region, buffers only)
     */
    BufferPool(long idleCap, long regionBytes) {
        this.idleCap = idleCap;
        MemorySegment r = regionBytes > 0 ? MappedMemory.reserve(Arena.ofAuto(), regionBytes) : null;
        this.region = r;
        this.blocks = r == null ? null : new RegionAllocator(r.byteSize());
    }

    /** Whether requests are served from a reserved region (else by separately mapped buffers). */
    boolean hasRegion() { return region != null; }

    /** A host tensor of {@code dtype} and {@code shape} over a pooled buffer; zero-filled only when {@code zero}. */
    Tensor tensor(DType dtype, boolean zero, int... shape) {
        long bytes = Tensor.numel(shape) * dtype.byteSize();
        if (bytes == 0) return Tensor.allocate(dtype, shape);
        long need = (bytes + PAGE - 1) / PAGE * PAGE;
        if (region != null) {
            long offset, clean;
            synchronized (this) {
                clean = blocks.touched(); // at and above this the region has never been written: zeros
                offset = closed ? -1 : blocks.allocate(need);
                if (offset >= 0) notePeak();
            }
            if (offset >= 0) {
                MemorySegment seg = region.asSlice(offset, bytes);
                if (zero && offset < clean) seg.asSlice(0, Math.min(bytes, clean - offset)).fill((byte) 0);
                long off = offset;
                return Tensor.host(seg, dtype, () -> release(off, need), shape);
            }
        }
        Buffer b = take(need);
        if (zero) b.segment.asSlice(0, bytes).fill((byte) 0);
        return Tensor.host(b.segment, dtype, () -> give(b), shape);
    }

    private synchronized void release(long offset, long size) {
        blocks.free(offset, size);
        if (closed) MappedMemory.discard(region.asSlice(offset, size)); // the other free blocks went back at close
    }

    private void notePeak() {
        peakBytes = Math.max(peakBytes, touched() + liveBytes + idleBytes);
    }

    private long touched() { return blocks == null ? 0 : blocks.touched(); }

    private synchronized Buffer take(long need) {
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
        notePeak();
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

    /**
     * Unmaps every idle buffer and gives the region's free pages back to the OS; from now on every buffer and block is
     * given back as it is released, and new requests are separate buffers.
     */
    synchronized void close() {
        trim();
        closed = true;
    }

    /** Unmaps every idle buffer and gives the region's free pages back to the OS. */
    synchronized void trim() {
        if (region != null) for (long[] r : blocks.releaseFree()) MappedMemory.discard(region.asSlice(r[0], r[1]));
        for (Iterator<ArrayDeque<Buffer>> it = idle.values().iterator(); it.hasNext(); ) {
            for (Buffer b : it.next()) b.arena.close();
            it.remove();
        }
        idleBytes = 0;
    }

    synchronized long peakBytes() { return peakBytes; }

    /** Bytes in use: region blocks and separately mapped buffers. */
    synchronized long liveBytes() { return liveBytes + (blocks == null ? 0 : blocks.live()); }

    /** Idle separately mapped buffers (the region's free blocks are not counted). */
    synchronized long idleBytes() { return idleBytes; }

    /** The region's touched bytes (0 without a region). */
    synchronized long regionTouchedBytes() { return touched(); }

    /** Forgets the peak (sets it to what is held now). */
    synchronized void resetPeak() { peakBytes = touched() + liveBytes + idleBytes; }

    synchronized String stats() {
        String r = region == null ? "no region" : String.format(java.util.Locale.ROOT, "region: live %.1f MB, touched %.1f MB, %d free fragments",
                blocks.live() / 1e6, blocks.touched() / 1e6, blocks.fragments());
        return String.format(java.util.Locale.ROOT, "pool: %s; buffers: %d hits, %d new, live %.1f MB, idle %.1f MB; peak %.1f MB",
                r, hits, misses, liveBytes / 1e6, idleBytes / 1e6, peakBytes / 1e6);
    }
}
