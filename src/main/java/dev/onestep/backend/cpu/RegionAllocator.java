package dev.onestep.backend.cpu;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Best-fit bookkeeping for one contiguous address range of {@code capacity} bytes: offsets only, no memory
 * ({@link BufferPool} maps the range). A request takes the smallest free block that holds it (the lowest such block on
 * a tie) and leaves the rest of that block free; a freed block merges with free neighbours. Everything at or above
 * {@link #top()} is free; a request no free block holds extends the top. {@link #touched()} is the highest top since the
 * last {@link #releaseFree}: the part of the range that has been written and is resident.
 *
 * <p>Replayed on the 768² pass's 604 requests (17.96 GB allocated over the pass, 1.813 GB live at most), this keeps
 * the touched range at 1.825 GB on the first pass and the second (docs/PERF.md, "Activation memory and the young generation").
 */
final class RegionAllocator {
    private final long capacity;
    /** Free blocks below top: offset → size, never adjacent (merged), never ending at top (top is lowered instead). */
    private final TreeMap<Long, Long> free = new TreeMap<>();
    private long top, touched, live;

    RegionAllocator(long capacity) {
        if (capacity < 0) throw new IllegalArgumentException("capacity " + capacity);
        this.capacity = capacity;
    }

    /** The offset of a new block of {@code size} bytes, or −1 when no free block and not the space above top holds it. */
    long allocate(long size) {
        if (size <= 0) throw new IllegalArgumentException("size " + size);
        Map.Entry<Long, Long> best = null;
        for (Map.Entry<Long, Long> e : free.entrySet())
            if (e.getValue() >= size && (best == null || e.getValue() < best.getValue())) best = e;
        long offset;
        if (best != null) {
            offset = best.getKey();
            long blockSize = best.getValue(); // read before the removal: TreeMap may reuse the entry for its successor
            free.remove(offset);
            if (blockSize > size) free.put(offset + size, blockSize - size);
        } else {
            if (capacity - top < size) return -1;
            offset = top;
            top += size;
            touched = Math.max(touched, top);
        }
        live += size;
        return offset;
    }

    /** Returns the block [offset, offset + size) (as allocated). */
    void free(long offset, long size) {
        if (offset < 0 || size <= 0 || offset + size > top)
            throw new IllegalArgumentException("free [" + offset + ", " + (offset + size) + ") outside [0, " + top + ")");
        Map.Entry<Long, Long> below = free.floorEntry(offset); // an immutable snapshot (TreeMap's navigation methods)
        if (below != null && below.getKey() + below.getValue() > offset
                || free.ceilingKey(offset) != null && free.ceilingKey(offset) < offset + size)
            throw new IllegalStateException("free [" + offset + ", " + (offset + size) + ") overlaps a free block: double free");
        live -= size;
        if (below != null && below.getKey() + below.getValue() == offset) { // merge with the block below
            free.remove(below.getKey());
            offset = below.getKey();
            size += below.getValue();
        }
        Long aboveSize = free.get(offset + size);
        if (aboveSize != null) { // merge with the block above
            free.remove(offset + size);
            size += aboveSize;
        }
        if (offset + size == top) top = offset;
        else free.put(offset, size);
    }

    /**
     * The free ranges (offset, length pairs) that have been touched, which the caller gives back to the OS; from now
     * on {@link #touched()} counts from top.
     */
    List<long[]> releaseFree() {
        List<long[]> out = new ArrayList<>();
        for (Map.Entry<Long, Long> e : free.entrySet()) out.add(new long[] {e.getKey(), e.getValue()});
        if (touched > top) out.add(new long[] {top, touched - top});
        touched = top;
        return out;
    }

    /** Bytes in allocated blocks. */
    long live() { return live; }

    /** Everything at or above this offset is free. */
    long top() { return top; }

    /** The highest top since the last {@link #releaseFree}: how much of the range has been written. */
    long touched() { return touched; }

    /** Number of free blocks below top (fragments). */
    int fragments() { return free.size(); }
}
