package dev.onestep.backend.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Locale;

/**
 * Address space straight from the OS (Linux: an anonymous {@code mmap} with {@code MAP_NORESERVE}) for the CPU
 * backend's activation region ({@link BufferPool}): reserved, not committed, so only what is written becomes resident,
 * and zero until then. Compared with {@link Arena#allocate} per buffer (measured on the 768² pass, docs/PERF.md, "Activation memory and the young generation"):
 * <ul>
 *   <li>no zero-fill pass on the allocating thread: fresh pages are faulted by the op's own worker threads as it writes
 *       them;</li>
 *   <li>the range is {@code madvise(MADV_HUGEPAGE)}d (and 2 MiB aligned), so where transparent huge pages are in
 *       {@code madvise} or {@code always} mode one fault maps 2 MiB instead of 4 KiB;</li>
 *   <li>memory stays with the process between ops and passes instead of going back to the OS and being faulted in
 *       and zeroed again (on the 2-core VM, where freed memory goes back to the host, that cost ≈ 2 s per GB).</li>
 * </ul>
 * {@link #allocate} serves the packed weight panels the same way, committed and in 4 KiB pages. Where this is unavailable
 * (not Linux, no native access, a failing call) {@link #reserve} returns null and the pool maps buffer by buffer, and
 * {@link #allocate} falls back to the arena. {@code -Donestep.cpu.mmap=false} forces that; {@code -Donestep.cpu.hugePages=false} keeps the
 * reservation but skips the huge-page advice.
 */
final class MappedMemory {
    private MappedMemory() {}

    private static final long HUGE = 1L << 21;
    private static final int PROT_READ_WRITE = 0x1 | 0x2, MAP_PRIVATE_ANONYMOUS = 0x02 | 0x20,
            MAP_PRIVATE_ANONYMOUS_NORESERVE = MAP_PRIVATE_ANONYMOUS | 0x4000;
    /** {@link #allocate} maps from this size on. */
    static final long MIN_MAPPED_BYTES = 1L << 20;
    private static final int MADV_DONTNEED = 4, MADV_HUGEPAGE = 14;

    private static final boolean HUGE_PAGES = !"false".equalsIgnoreCase(System.getProperty("onestep.cpu.hugePages", "true"));
    private static final MethodHandle MMAP, MUNMAP, MADVISE;

    static {
        MethodHandle mmap = null, munmap = null, madvise = null;
        boolean linux = System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux");
        if (linux && !"false".equalsIgnoreCase(System.getProperty("onestep.cpu.mmap", "true"))) {
            try {
                Linker linker = Linker.nativeLinker();
                SymbolLookup libc = linker.defaultLookup();
                mmap = linker.downcallHandle(libc.find("mmap").orElseThrow(), FunctionDescriptor.of(ValueLayout.ADDRESS,
                        ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
                munmap = linker.downcallHandle(libc.find("munmap").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
                madvise = linker.downcallHandle(libc.find("madvise").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
            } catch (RuntimeException e) { // no such symbol, or native access denied: fall back to the arena
                mmap = munmap = madvise = null;
            }
        }
        MMAP = mmap;
        MUNMAP = munmap;
        MADVISE = madvise;
    }

    /**
     * The machine's physical memory (Linux: MemTotal of /proc/meminfo), at least 1 GiB; 0 where unknown. Not
     * MemoryBudget's figure: that one comes from java.management, which the GPU bundle's JRE leaves out, and this only
     * sizes address space.
     */
    static long physicalBytes() {
        try {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) {
                    String[] f = line.trim().split("\\s+"); // "MemTotal:  24576000 kB"
                    return Math.max(1L << 30, Long.parseLong(f[1]) << 10);
                }
            }
        } catch (java.io.IOException | RuntimeException e) {
            // not Linux: no region
        }
        return 0;
    }

    /**
     * {@code bytes} of reserved, zero, 2 MiB-aligned address space, unmapped when {@code arena} closes; null where the
     * OS does not give it (then the caller allocates per buffer).
     */
    static MemorySegment reserve(Arena arena, long bytes) {
        if (MMAP == null || bytes <= 0) return null;
        long length = bytes + HUGE; // room to start on a 2 MiB boundary; the unused head and tail are never touched
        MemorySegment whole = map(arena, length, MAP_PRIVATE_ANONYMOUS_NORESERVE);
        if (whole == null) return null;
        if (HUGE_PAGES) advise(whole, length, MADV_HUGEPAGE); // advice only: a refusal changes nothing
        long address = whole.address(), start = (address + HUGE - 1) & -HUGE;
        return whole.asSlice(start - address, bytes);
    }

    /**
     * {@code bytes} of zeroed memory freed when {@code arena} closes: mapped from the OS (4 KiB pages, committed) from
     * {@link #MIN_MAPPED_BYTES} on where {@link #reserve} works, so the pages are faulted in by whoever first writes them
     * (the packing threads) rather than zero-filled by {@code Arena.allocate} on the calling thread; else from the arena.
     * No huge pages here: a partly written last 2 MiB page would cost up to 2 MiB per tensor.
     */
    static MemorySegment allocate(Arena arena, long bytes) {
        MemorySegment mapped = MMAP != null && bytes >= MIN_MAPPED_BYTES ? map(arena, bytes, MAP_PRIVATE_ANONYMOUS) : null;
        return mapped != null ? mapped : arena.allocate(Math.max(1, bytes), 64);
    }

    /** {@code length} bytes of anonymous read-write memory mapped with {@code flags}, unmapped with {@code arena}; null on failure. */
    private static MemorySegment map(Arena arena, long length, int flags) {
        MemorySegment base;
        try {
            base = (MemorySegment) MMAP.invokeExact(MemorySegment.NULL, length, PROT_READ_WRITE, flags, -1, 0L);
        } catch (Throwable t) {
            return null;
        }
        long address = base.address();
        if (address == -1L || address == 0L) return null; // MAP_FAILED
        return base.reinterpret(length, arena, s -> unmap(address, length));
    }

    /** Gives the pages of {@code range} (within a {@link #reserve}d segment) back to the OS; they read as zero after. */
    static void discard(MemorySegment range) {
        if (MADVISE != null && range.byteSize() > 0) advise(range, range.byteSize(), MADV_DONTNEED);
    }

    private static int advise(MemorySegment range, long length, int advice) {
        try {
            return (int) MADVISE.invokeExact(range, length, advice);
        } catch (Throwable t) {
            return -1;
        }
    }

    private static void unmap(long address, long length) {
        try {
            int ignored = (int) MUNMAP.invokeExact(MemorySegment.ofAddress(address), length);
        } catch (Throwable t) {
            throw new IllegalStateException("munmap failed", t);
        }
    }
}
