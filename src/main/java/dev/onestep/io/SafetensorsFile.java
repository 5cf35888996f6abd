package dev.onestep.io;

import dev.onestep.tensor.DType;
import dev.onestep.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * One memory-mapped .safetensors file: the header is parsed and every entry validated at open; tensors are
 * zero-copy views into the mapping.
 *
 * <p>Layout: an 8-byte little-endian unsigned header length N, N bytes of UTF-8 JSON
 * ({@code {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}}), then the
 * data area; offsets are relative to its start (8 + N). The whole file is mapped once through a shared
 * {@link Arena} (java.lang.foreign), so files past 2 GB work, every offset is a long and {@link #close()}
 * unmaps deterministically. Because every range is checked against the file size before any view is made,
 * a corrupt or hostile file gives a {@link WeightsException} naming the file, the tensor and the problem;
 * it can never make us read outside the mapping.
 */
public final class SafetensorsFile implements WeightSource {
    /** Largest header accepted. Real headers are well under 1 MB (SD2 UNet: ~100 KB); this stops a bogus length. */
    public static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;

    private final Path path;
    private final Arena arena;
    private final MemorySegment file;
    private final Map<String, TensorInfo> tensors; // sorted by name
    private final Map<String, String> metadata;
    private boolean closed;

    private SafetensorsFile(Path path, Arena arena, MemorySegment file, Map<String, TensorInfo> tensors, Map<String, String> metadata) {
        this.path = path;
        this.arena = arena;
        this.file = file;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /** Maps and validates a .safetensors file. The caller closes it. */
    public static SafetensorsFile open(Path path) {
        // a FIFO would block in open and a device has no size: only a regular file (a symlink to one is fine) is mapped
        if (java.nio.file.Files.exists(path) && !java.nio.file.Files.isRegularFile(path))
            throw new WeightsException(path + ": not a regular file (a folder, FIFO or device); a safetensors weights file is expected");
        Arena arena = Arena.ofShared();
        try {
            MemorySegment seg;
            try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
                long size = ch.size();
                if (size < 8) throw new WeightsException(path + ": file is " + size + " bytes, shorter than the 8-byte header length; not a safetensors file");
                // The mapping outlives the channel: it belongs to the arena.
                seg = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            }
            Header h = parseHeader(path, seg);
            return new SafetensorsFile(path, arena, seg, h.tensors, h.metadata);
        } catch (NoSuchFileException e) {
            arena.close();
            throw new WeightsException(path + ": file not found");
        } catch (IOException e) {
            arena.close();
            throw new WeightsException(path + ": cannot map: " + e, e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private record Header(Map<String, TensorInfo> tensors, Map<String, String> metadata) {}

    private static Header parseHeader(Path path, MemorySegment seg) {
        long size = seg.byteSize();
        long n = seg.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 0);
        String nText = Long.toUnsignedString(n);
        if (n == 0) throw new WeightsException(path + ": header length is 0; not a safetensors file");
        if (Long.compareUnsigned(n, MAX_HEADER_BYTES) > 0)
            throw new WeightsException(path + ": header length " + nText + " is above the " + MAX_HEADER_BYTES + "-byte limit; not a safetensors file or corrupt");
        if (n > size - 8)
            throw new WeightsException(path + ": header length " + nText + " runs past the end of the file (" + size + " bytes); file truncated or not safetensors");
        byte[] headerBytes = seg.asSlice(8, n).toArray(ValueLayout.JAVA_BYTE);
        Map<String, Object> root = JsonFields.parseObject(headerBytes, path + ": header");
        long dataStart = 8 + n;
        long dataSize = size - dataStart;

        Map<String, TensorInfo> tensors = new TreeMap<>();
        Map<String, String> metadata = Map.of();
        for (Map.Entry<String, Object> e : root.entrySet()) {
            if (e.getKey().equals("__metadata__")) {
                metadata = parseMetadata(path, e.getValue());
                continue;
            }
            TensorInfo t = parseEntry(path, e.getKey(), e.getValue(), dataStart, dataSize);
            tensors.put(t.name(), t);
        }
        checkCoverage(path, tensors, dataStart, dataSize);
        return new Header(Collections.unmodifiableMap(tensors), metadata);
    }

    private static Map<String, String> parseMetadata(Path path, Object v) {
        if (v == null) return Map.of();
        if (!(v instanceof Map<?, ?> m)) throw new WeightsException(path + ": __metadata__ should be an object of strings, got " + Json.describe(v));
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : m.entrySet()) {
            if (!(e.getValue() instanceof String s))
                throw new WeightsException(path + ": __metadata__ '" + e.getKey() + "' should be a string, got " + Json.describe(e.getValue()));
            out.put((String) e.getKey(), s);
        }
        return Collections.unmodifiableMap(out);
    }

    private static TensorInfo parseEntry(Path path, String name, Object v, long dataStart, long dataSize) {
        String where = path + ": tensor '" + name + "'";
        if (!(v instanceof Map<?, ?> m)) throw new WeightsException(where + ": entry should be an object, got " + Json.describe(v));
        Object dt = m.get("dtype"), sh = m.get("shape"), off = m.get("data_offsets");
        if (dt == null) throw new WeightsException(where + ": missing 'dtype'");
        if (sh == null) throw new WeightsException(where + ": missing 'shape'");
        if (off == null) throw new WeightsException(where + ": missing 'data_offsets'");
        if (!(dt instanceof String dtName)) throw new WeightsException(where + ": 'dtype' should be a string, got " + Json.describe(dt));
        DType dtype = DType.fromSafetensors(dtName);
        if (dtype == null) throw new WeightsException(where + ": unknown dtype '" + dtName + "' (supported: " + supported() + ")");

        if (!(sh instanceof List<?> dims)) throw new WeightsException(where + ": 'shape' should be an integer list, got " + Json.describe(sh));
        int[] shape = new int[dims.size()];
        for (int i = 0; i < shape.length; i++) {
            Object d = dims.get(i);
            if (!(d instanceof Long x)) throw new WeightsException(where + ": shape " + dims + ": dimension " + i + " should be an integer, got " + Json.describe(d));
            if (x < 0) throw new WeightsException(where + ": shape " + dims + " has a negative dimension " + x);
            if (x > Integer.MAX_VALUE) throw new WeightsException(where + ": shape " + dims + ": dimension " + x + " is larger than " + Integer.MAX_VALUE);
            shape[i] = (int) (long) x;
        }
        String typed = dtype + Arrays.toString(shape);

        if (!(off instanceof List<?> o) || o.size() != 2 || !(o.get(0) instanceof Long begin) || !(o.get(1) instanceof Long end))
            throw new WeightsException(where + ": 'data_offsets' should be two integers [begin, end], got " + (off instanceof List ? off : Json.describe(off)));
        if (begin < 0 || end < 0) throw new WeightsException(where + ": data_offsets [" + begin + ", " + end + "] are negative");
        if (begin > end) throw new WeightsException(where + ": data_offsets [" + begin + ", " + end + "] have begin > end");

        long need;
        try {
            need = Math.multiplyExact(Tensor.numel(shape), (long) dtype.byteSize());
        } catch (ArithmeticException e) {
            throw new WeightsException(where + ": " + typed + " is too large (element count × " + dtype.byteSize() + " bytes overflows a long)");
        }
        if (end - begin != need)
            throw new WeightsException(where + ": data_offsets [" + begin + ", " + end + "] hold " + (end - begin) + " bytes but " + typed + " needs " + need);
        if (end > dataSize)
            throw new WeightsException(where + ": data_offsets [" + begin + ", " + end + "] run past the end of the data area (" + dataSize + " bytes); file truncated?");
        return new TensorInfo(name, dtype, shape, path, dataStart + begin, need);
    }

    /**
     * The tensors must tile the data area exactly, as the format's reference reader requires (its InvalidOffset and
     * MetadataIncompleteBuffer errors): sorted by offsets, each begins where the previous one ends, and the last ends
     * at the end of the file. A hole, an overlap or trailing bytes means the header length or the offsets are wrong —
     * e.g. a header length one byte short, which would shift every tensor by a byte and still parse.
     */
    private static void checkCoverage(Path path, Map<String, TensorInfo> tensors, long dataStart, long dataSize) {
        List<TensorInfo> byOffset = new ArrayList<>(tensors.values());
        byOffset.sort(Comparator.comparingLong(TensorInfo::offset).thenComparingLong(TensorInfo::length).thenComparing(TensorInfo::name));
        long cursor = dataStart;
        TensorInfo prev = null;
        for (TensorInfo t : byOffset) {
            if (t.offset() < cursor)
                throw new WeightsException(path + ": tensor '" + t.name() + "' (data_offsets " + range(t, dataStart) + ") overlaps tensor '"
                        + prev.name() + "' (data_offsets " + range(prev, dataStart) + ")");
            if (t.offset() > cursor)
                throw new WeightsException(path + ": the data area has a gap of " + (t.offset() - cursor) + " bytes at ["
                        + (cursor - dataStart) + ", " + (t.offset() - dataStart) + ") before tensor '" + t.name() + "' (data_offsets "
                        + range(t, dataStart) + "); safetensors tensors must cover the data area without holes, so the header or its"
                        + " length is wrong");
            cursor = t.offset() + t.length();
            prev = t;
        }
        long trailing = dataStart + dataSize - cursor;
        if (trailing > 0)
            throw new WeightsException(path + ": " + trailing + " bytes after the last tensor" + (prev == null ? "" : " ('" + prev.name()
                    + "' ends at byte " + (cursor - dataStart) + " of the " + dataSize + "-byte data area)")
                    + "; safetensors tensors must cover the data area exactly, so the header length or the offsets are wrong");
    }

    private static String range(TensorInfo t, long dataStart) {
        long begin = t.offset() - dataStart;
        return "[" + begin + ", " + (begin + t.length()) + "]";
    }

    private static String supported() {
        StringBuilder sb = new StringBuilder();
        for (DType d : DType.values()) sb.append(sb.isEmpty() ? "" : ", ").append(d.safetensorsName());
        return sb.toString();
    }

    /** The file's path. */
    public Path path() { return path; }

    /** The optional {@code __metadata__} string map (e.g. {"format": "pt"}); empty when absent. */
    public Map<String, String> metadata() { return metadata; }

    /** The file size in bytes. */
    public long byteSize() { return file.byteSize(); }

    @Override
    public String description() { return path.toString(); }

    @Override
    public Set<String> keys() { return tensors.keySet(); }

    @Override
    public TensorInfo info(String name) { return tensors.get(name); }

    @Override
    public Tensor tensor(String name) {
        if (closed) throw new IllegalStateException(path + ": used after close");
        TensorInfo t = tensors.get(name);
        if (t == null) throw new WeightsException(path + ": no tensor '" + name + "'");
        return Tensor.view(file.asSlice(t.offset(), t.length()), t.dtype(), t.shape());
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        arena.close();
    }

    @Override
    public String toString() { return "SafetensorsFile[" + path + ", " + tensors.size() + " tensors]"; }
}
