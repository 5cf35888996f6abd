package dev.onestep.backend.cuda;

import jcuda.Pointer;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Kernel arguments for cuLaunchKernel without per-launch allocation: cuLaunchKernel takes {@code void**}, one
 * pointer per parameter to that parameter's value. Here each argument gets its own 8-byte slot in an off-heap
 * value array, and a second off-heap array holds the slots' addresses, filled once. A launch writes the values
 * and passes the address array (as a JCuda Pointer to raw memory). The driver copies the values during
 * cuLaunchKernel, so the slots can be rewritten for the next launch at once.
 *
 * <p>The kernel's C parameter types decide the slot writes: pointers and {@code long long} → {@link #ptr} /
 * {@link #i64} (8 bytes), {@code int} → {@link #i32}, {@code float} → {@link #f32} (4 bytes, little-endian at
 * the slot's start). Not thread-safe; the backend serialises launches.
 */
final class KernelArgs implements AutoCloseable {
    static final int MAX_ARGS = 24;

    private final Arena arena = Arena.ofShared();
    private final MemorySegment values = arena.allocate(8L * MAX_ARGS, 16);
    private final MemorySegment slots = arena.allocate(8L * MAX_ARGS, 16);
    private final Pointer pointer;
    private int n;

    KernelArgs() {
        for (int i = 0; i < MAX_ARGS; i++) slots.setAtIndex(ValueLayout.JAVA_LONG, i, values.address() + 8L * i);
        pointer = new CudaDriver.HostPtr(slots.address());
    }

    /** Starts a new argument list. */
    KernelArgs reset() {
        n = 0;
        return this;
    }

    private long next() {
        if (n == MAX_ARGS) throw new IllegalStateException("more than " + MAX_ARGS + " kernel arguments");
        values.set(ValueLayout.JAVA_LONG, 8L * n, 0L);
        return 8L * n++;
    }

    /** A device pointer. */
    KernelArgs ptr(long address) {
        values.set(ValueLayout.JAVA_LONG, next(), address);
        return this;
    }

    KernelArgs i64(long v) {
        values.set(ValueLayout.JAVA_LONG, next(), v);
        return this;
    }

    KernelArgs i32(int v) {
        values.set(ValueLayout.JAVA_INT, next(), v);
        return this;
    }

    KernelArgs f32(float v) {
        values.set(ValueLayout.JAVA_FLOAT, next(), v);
        return this;
    }

    int count() { return n; }

    /** The value of slot {@code i} as raw bits (tests). */
    long slotBits(int i) { return values.get(ValueLayout.JAVA_LONG, 8L * i); }

    Pointer pointer() { return pointer; }

    @Override
    public void close() { arena.close(); }
}
