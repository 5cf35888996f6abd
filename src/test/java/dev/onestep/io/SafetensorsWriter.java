package dev.onestep.io;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Test helper: builds safetensors bytes by hand — well-formed ones from (name, dtype, shape, bytes) entries,
 * or corrupt ones from a raw header string or raw header length — so readers can be tested on both.
 */
final class SafetensorsWriter {
    private record Entry(String name, String dtype, long[] shape, byte[] data) {}

    private final List<Entry> entries = new ArrayList<>();
    private Map<String, String> metadata;

    SafetensorsWriter add(String name, String dtype, long[] shape, byte[] data) {
        entries.add(new Entry(name, dtype, shape, data));
        return this;
    }

    SafetensorsWriter metadata(Map<String, String> m) {
        metadata = m;
        return this;
    }

    /** Header JSON with data_offsets laid out back to back in insertion order. */
    String header() {
        StringBuilder sb = new StringBuilder("{");
        if (metadata != null) {
            sb.append("\"__metadata__\":{");
            int i = 0;
            for (var e : metadata.entrySet()) sb.append(i++ > 0 ? "," : "").append('"').append(e.getKey()).append("\":\"").append(e.getValue()).append('"');
            sb.append('}');
        }
        long off = 0;
        for (Entry e : entries) {
            if (sb.length() > 1) sb.append(',');
            sb.append('"').append(e.name).append("\":{\"dtype\":\"").append(e.dtype).append("\",\"shape\":[");
            for (int i = 0; i < e.shape.length; i++) sb.append(i > 0 ? "," : "").append(e.shape[i]);
            sb.append("],\"data_offsets\":[").append(off).append(',').append(off + e.data.length).append("]}");
            off += e.data.length;
        }
        return sb.append('}').toString();
    }

    byte[] data() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (Entry e : entries) out.writeBytes(e.data);
        return out.toByteArray();
    }

    byte[] build() { return raw(header(), data()); }

    Path write(Path file) throws IOException {
        Files.write(file, build());
        return file;
    }

    /** A file from an arbitrary header text (padded to 8 bytes like the reference writer) and data area. */
    static byte[] raw(String header, byte[] data) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        int pad = (8 - h.length % 8) % 8;
        byte[] padded = new byte[h.length + pad];
        System.arraycopy(h, 0, padded, 0, h.length);
        for (int i = h.length; i < padded.length; i++) padded[i] = ' ';
        return raw(padded.length, padded, data);
    }

    /** A file with an arbitrary (possibly lying) header length field followed by the given bytes. */
    static byte[] raw(long headerLength, byte[] header, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(headerLength).put(header).put(data);
        return b.array();
    }

    static byte[] f32(float... v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : v) b.putFloat(x);
        return b.array();
    }

    static byte[] f16(float... v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : v) b.putShort(Float.floatToFloat16(x));
        return b.array();
    }

    static byte[] bf16(float... v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : v) b.putShort(dev.onestep.tensor.DType.f32ToBf16(x));
        return b.array();
    }

    static byte[] i64(long... v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (long x : v) b.putLong(x);
        return b.array();
    }

    static long[] shape(long... dims) { return dims; }
}
