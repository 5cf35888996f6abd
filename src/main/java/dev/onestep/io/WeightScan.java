package dev.onestep.io;

import dev.onestep.tensor.DType;
import dev.onestep.tensor.Tensor;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

/**
 * Finds non-finite values (NaN, ±Inf) in a checkpoint's floating-point tensors before they are used: one NaN in
 * a bias makes every output NaN, which would otherwise only show as a blank map. A value is non-finite exactly when
 * all its exponent bits are set (IEEE 754: F32 0x7F800000, F16 0x7C00, BF16 0x7F80), so the scan is a masked compare
 * over the mapped bytes, vectorised and spread over the cores in 4 MiB chunks: it runs at memory speed, and the
 * pages it touches are the ones loading reads next. Flagged tensors are then counted exactly (NaN and Inf apart)
 * for the message.
 *
 * <p>The mapped bytes are read only through {@link MemorySegment#copy} into a small heap buffer, and the vectors run
 * over that buffer: a file truncated while it is mapped faults the access, and the JVM turns a fault in a guarded
 * copy into an {@link InternalError} (which loading names as a changed file), whereas a vector load straight from
 * the mapping is not guarded and takes the whole JVM down with SIGBUS.
 */
public final class WeightScan {
    private WeightScan() {}

    /** One tensor with non-finite values: how many are NaN, how many ±Inf, of how many. */
    public record Finding(String tensor, long nan, long inf, long values) {
        @Override
        public String toString() {
            return tensor + " (" + (nan > 0 ? nan + " NaN" : "") + (nan > 0 && inf > 0 ? ", " : "") + (inf > 0 ? inf + " Inf" : "")
                    + " of " + values + " values)";
        }
    }

    private static final long CHUNK_BYTES = 4L << 20;
    private static final VectorSpecies<Integer> INTS = IntVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Short> SHORTS = ShortVector.SPECIES_PREFERRED;
    private static final ValueLayout.OfInt INT_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** The tensors of {@code source} that hold non-finite values, in key order; empty when all are finite. */
    public static List<Finding> scan(WeightSource source) {
        record Chunk(String name, long from, long to) {}
        List<Chunk> chunks = new ArrayList<>();
        for (String name : source.keys()) {
            TensorInfo info = source.info(name);
            if (exponentMask(info.dtype()) == 0) continue;
            for (long at = 0; at < info.length(); at += CHUNK_BYTES) chunks.add(new Chunk(name, at, Math.min(info.length(), at + CHUNK_BYTES)));
        }
        boolean[] flagged = new boolean[chunks.size()];
        IntStream.range(0, chunks.size()).parallel().forEach(i -> {
            Chunk c = chunks.get(i);
            Tensor t = source.tensor(c.name());
            flagged[i] = anyNonFinite(t.data().asSlice(c.from(), c.to() - c.from()), t.dtype());
        });
        List<Finding> out = new ArrayList<>();
        String last = null;
        for (int i = 0; i < flagged.length; i++) {
            String name = chunks.get(i).name();
            if (!flagged[i] || name.equals(last)) continue;
            last = name;
            out.add(count(name, source.tensor(name)));
        }
        return out;
    }

    /** Throws a {@link WeightsException} naming every tensor with non-finite values (at most 10 listed). */
    public static void check(WeightSource source) {
        List<Finding> found = scan(source);
        if (found.isEmpty()) return;
        List<Finding> shown = found.size() > 10 ? found.subList(0, 10) : found;
        throw new WeightsException(source.description() + ": the checkpoint holds non-finite weights (NaN or Inf), which would make "
                + "every prediction NaN: " + String.join(", ", shown.stream().map(Finding::toString).toList())
                + (found.size() > 10 ? " and " + (found.size() - 10) + " more tensors" : "")
                + "; the file is corrupt (re-download it), or pass --no-weight-check to load it anyway");
    }

    /** The exponent bits of a floating dtype (all set = NaN or Inf), or 0 for an integer dtype. */
    static int exponentMask(DType d) {
        return switch (d) {
            case F32 -> 0x7F800000;
            case F16 -> 0x7C00;
            case BF16 -> 0x7F80;
            default -> 0;
        };
    }

    private static final int BUFFER_BYTES = 64 << 10; // stays in L2 while it is scanned
    private static final ThreadLocal<MemorySegment> BUFFER = ThreadLocal.withInitial(() -> MemorySegment.ofArray(new byte[BUFFER_BYTES]));

    /** Whether the bytes of {@code seg}, values of {@code dtype}, hold a NaN or Inf. */
    static boolean anyNonFinite(MemorySegment seg, DType dtype) {
        MemorySegment buf = BUFFER.get();
        int width = dtype == DType.F32 ? 4 : 2;
        long usable = seg.byteSize() / width * width;
        for (long at = 0; at < usable; at += BUFFER_BYTES) {
            int bytes = (int) Math.min(BUFFER_BYTES, usable - at);
            MemorySegment.copy(seg, at, buf, 0, bytes); // the guarded read of the mapping
            if (anyNonFiniteInHeap(buf, bytes, dtype)) return true;
        }
        return false;
    }

    /** The vector scan of the first {@code bytes} of the heap buffer {@code buf}. */
    private static boolean anyNonFiniteInHeap(MemorySegment buf, int bytes, DType dtype) {
        int mask = exponentMask(dtype);
        if (dtype == DType.F32) {
            long n = bytes / 4, i = 0;
            for (long bound = INTS.loopBound(n); i < bound; i += INTS.length()) {
                IntVector v = IntVector.fromMemorySegment(INTS, buf, i * 4, ByteOrder.LITTLE_ENDIAN);
                if (v.and(mask).compare(VectorOperators.EQ, mask).anyTrue()) return true;
            }
            for (; i < n; i++) if ((buf.get(INT_LE, i * 4) & mask) == mask) return true;
            return false;
        }
        short m = (short) mask;
        long n = bytes / 2, i = 0;
        for (long bound = SHORTS.loopBound(n); i < bound; i += SHORTS.length()) {
            ShortVector v = ShortVector.fromMemorySegment(SHORTS, buf, i * 2, ByteOrder.LITTLE_ENDIAN);
            if (v.and(m).compare(VectorOperators.EQ, m).anyTrue()) return true;
        }
        for (; i < n; i++) if ((buf.get(SHORT_LE, i * 2) & m) == m) return true;
        return false;
    }

    /** The scalar twin, counting: NaN has a non-zero mantissa under the full exponent, Inf a zero one. */
    static Finding count(String name, Tensor t) {
        int mask = exponentMask(t.dtype());
        boolean wide = t.dtype() == DType.F32;
        MemorySegment seg = t.data();
        long n = t.numel(), nan = 0, inf = 0;
        for (long i = 0; i < n; i++) {
            int bits = wide ? seg.get(INT_LE, i * 4) : seg.get(SHORT_LE, i * 2) & 0xFFFF;
            if ((bits & mask) != mask) continue;
            if ((bits & ~mask & (wide ? 0x7FFFFFFF : 0x7FFF)) != 0) nan++;
            else inf++;
        }
        return new Finding(name, nan, inf, n);
    }
}
