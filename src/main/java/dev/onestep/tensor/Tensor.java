package dev.onestep.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * A dense, row-major tensor: a shape, a dtype and a memory segment.
 *
 * <p>Host tensors own an arena (freed by {@link #close()}) or are views over memory owned elsewhere
 * (a memory-mapped safetensors file). Device backends hand out tensors whose segment is a zero-length
 * segment at the device address ({@link #location()} says which); only their backend touches them.
 *
 * <p>Activation layout in the engine is channels-last: images are [N, H, W, C], token sequences
 * [N, L, C]. The fixtures are NCHW; {@link Layouts} converts at the boundary.
 */
public final class Tensor implements AutoCloseable {
    /** Where a tensor's bytes live. */
    public enum Location { HOST, DEVICE }

    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;

    private final int[] shape;
    private final DType dtype;
    private final MemorySegment data;
    private final Arena arena;          // null for views
    private final Location location;
    private final AutoCloseable releaser; // device memory release, or null
    private boolean closed;

    private Tensor(int[] shape, DType dtype, MemorySegment data, Arena arena, Location location, AutoCloseable releaser) {
        this.shape = shape.clone();
        this.dtype = dtype;
        this.data = data;
        this.arena = arena;
        this.location = location;
        this.releaser = releaser;
    }

    /** Zero-filled host tensor that owns its memory. */
    public static Tensor allocate(DType dtype, int... shape) {
        long bytes = numel(shape) * dtype.byteSize();
        Arena arena = Arena.ofShared();
        MemorySegment seg = arena.allocate(Math.max(bytes, 1), 64).asSlice(0, bytes);
        return new Tensor(shape, dtype, seg, arena, Location.HOST, null);
    }

    /** A view over host memory owned elsewhere (e.g. an mmapped checkpoint). Closing it frees nothing. */
    public static Tensor view(MemorySegment segment, DType dtype, int... shape) {
        long bytes = numel(shape) * dtype.byteSize();
        if (segment.byteSize() != bytes)
            throw new IllegalArgumentException("segment of " + segment.byteSize() + " bytes for " + dtype + Arrays.toString(shape));
        return new Tensor(shape, dtype, segment, null, Location.HOST, null);
    }

    /**
     * A host tensor over memory owned by an allocator (e.g. a backend's buffer pool): closing it runs
     * {@code releaser} (which returns the memory to its owner) instead of freeing anything itself.
     * {@code segment} may be larger than the tensor; the tensor sees its first numel·size bytes.
     */
    public static Tensor host(MemorySegment segment, DType dtype, AutoCloseable releaser, int... shape) {
        long bytes = numel(shape) * dtype.byteSize();
        if (segment.byteSize() < bytes)
            throw new IllegalArgumentException("segment of " + segment.byteSize() + " bytes for " + dtype + Arrays.toString(shape));
        return new Tensor(shape, dtype, segment.asSlice(0, bytes), null, Location.HOST, releaser);
    }

    /** A device tensor: the segment's address is the device pointer; {@code releaser} frees it. */
    public static Tensor device(long address, DType dtype, AutoCloseable releaser, int... shape) {
        return new Tensor(shape, dtype, MemorySegment.ofAddress(address), null, Location.DEVICE, releaser);
    }

    /** Host F32 tensor holding a copy of {@code values}. */
    public static Tensor of(float[] values, int... shape) {
        if (values.length != numel(shape))
            throw new IllegalArgumentException(values.length + " values for shape " + Arrays.toString(shape));
        Tensor t = allocate(DType.F32, shape);
        MemorySegment.copy(values, 0, t.data, F32, 0, values.length);
        return t;
    }

    public int[] shape() { return shape.clone(); }

    public int rank() { return shape.length; }

    /** Size of dimension {@code i}; negative indices count from the end. */
    public int dim(int i) { return shape[i < 0 ? shape.length + i : i]; }

    public long numel() { return numel(shape); }

    public DType dtype() { return dtype; }

    public MemorySegment data() {
        if (closed) throw new IllegalStateException("tensor used after close: " + this);
        return data;
    }

    public Location location() { return location; }

    public boolean isHost() { return location == Location.HOST; }

    /** A tensor sharing this one's memory with another shape of the same element count (not owning it). */
    public Tensor reshape(int... newShape) {
        if (numel(newShape) != numel())
            throw new IllegalArgumentException("cannot reshape " + Arrays.toString(shape) + " to " + Arrays.toString(newShape));
        return new Tensor(newShape, dtype, data, null, location, null);
    }

    /**
     * The same memory under a new shape, taking over ownership: the returned tensor frees the memory when closed,
     * and this one becomes unusable (as if closed) without freeing anything.
     */
    public Tensor takeAs(int... newShape) {
        if (numel(newShape) != numel())
            throw new IllegalArgumentException("cannot reshape " + Arrays.toString(shape) + " to " + Arrays.toString(newShape));
        if (closed) throw new IllegalStateException("tensor used after close: " + this);
        closed = true;
        return new Tensor(newShape, dtype, data, arena, location, releaser);
    }

    /** Element {@code i} (flat index) widened to float. Host tensors only. */
    public float getFloat(long i) {
        return switch (dtype) {
            case F32 -> data.getAtIndex(F32, i);
            case F16 -> DType.f16ToF32(data.getAtIndex(I16, i));
            case BF16 -> DType.bf16ToF32(data.getAtIndex(I16, i));
            case I64 -> data.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i);
            case I32 -> data.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i);
            case U8 -> data.get(ValueLayout.JAVA_BYTE, i) & 0xFF;
        };
    }

    /** Sets element {@code i} of an F32 host tensor. */
    public void setFloat(long i, float v) {
        if (dtype != DType.F32) throw new UnsupportedOperationException("setFloat on " + dtype);
        data.setAtIndex(F32, i, v);
    }

    /** All elements widened to float (host only; fails past 2^31-1 elements). */
    public float[] toFloatArray() {
        if (!isHost()) throw new IllegalStateException("toFloatArray on a device tensor; copy it to the host first");
        long n = numel();
        if (n > Integer.MAX_VALUE - 8) throw new IllegalStateException("tensor too large for a Java array: " + n);
        float[] out = new float[(int) n];
        if (dtype == DType.F32) {
            MemorySegment.copy(data, F32, 0, out, 0, out.length);
        } else {
            for (int i = 0; i < out.length; i++) out[i] = getFloat(i);
        }
        return out;
    }

    /** A new F32 host tensor with this tensor's values (widened from F16/BF16 when needed). */
    public Tensor toF32() {
        if (dtype == DType.F32 && isHost()) {
            Tensor t = allocate(DType.F32, shape);
            MemorySegment.copy(data, 0, t.data, 0, data.byteSize());
            return t;
        }
        return of(toFloatArray(), shape);
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        if (arena != null) arena.close();
        if (releaser != null) {
            try {
                releaser.close();
            } catch (Exception e) {
                throw new IllegalStateException("failed to release tensor " + this, e);
            }
        }
    }

    public boolean isClosed() { return closed; }

    @Override
    public String toString() {
        return "Tensor" + Arrays.toString(shape) + " " + dtype + (location == Location.DEVICE ? " @device" : "");
    }

    public static long numel(int... shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            n = Math.multiplyExact(n, d);
        }
        return n;
    }
}
