package dev.onestep.io;

import dev.onestep.tensor.DType;
import dev.onestep.tensor.Tensor;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * NumPy .npy files (format 1.0/2.0/3.0, C order): little-endian float32, float16, uint8, int32, int64 in;
 * float32 out. Fixtures and --dump files use this format.
 */
public final class Npy {
    private Npy() {}

    /** The largest file read (one Java array holds it). */
    static final long MAX_FILE_BYTES = Integer.MAX_VALUE - 8;
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
    private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

    /** Reads an .npy file into a host tensor of its own dtype (F32, F16, U8, I32 or I64). */
    public static Tensor read(Path file) throws IOException {
        long size = Files.size(file);
        if (size > MAX_FILE_BYTES) throw new IOException(file + ": not a readable .npy file: " + size + " bytes, above the " + MAX_FILE_BYTES + "-byte limit");
        byte[] bytes = Files.readAllBytes(file);
        try {
            return parse(bytes);
        } catch (IllegalArgumentException e) {
            throw new IOException(file + ": not a readable .npy file: " + e.getMessage(), e);
        }
    }

    /** Reads an .npy file as float values (any supported dtype widened). */
    public static float[] readFloats(Path file) throws IOException {
        try (Tensor t = read(file)) {
            return t.toFloatArray();
        }
    }

    /** The shape stored in an .npy file. */
    public static int[] shape(Path file) throws IOException {
        try (Tensor t = read(file)) {
            return t.shape();
        }
    }

    static Tensor parse(byte[] bytes) {
        if (bytes.length < 10) throw new IllegalArgumentException("file too short");
        for (int i = 0; i < MAGIC.length; i++)
            if (bytes[i] != MAGIC[i]) throw new IllegalArgumentException("bad magic");
        int major = bytes[6];
        ByteBuffer bb = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        int headerLen;
        int headerStart;
        if (major == 1) {
            headerLen = Short.toUnsignedInt(bb.getShort(8));
            headerStart = 10;
        } else if (major == 2 || major == 3) {
            if (bytes.length < 12) throw new IllegalArgumentException("file too short for a version " + major + " header");
            headerLen = bb.getInt(8);
            headerStart = 12;
        } else {
            throw new IllegalArgumentException("unsupported .npy version " + major);
        }
        if (headerLen < 0 || headerStart + (long) headerLen > bytes.length) throw new IllegalArgumentException("header past end of file");
        String header = new String(bytes, headerStart, headerLen, major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        Matcher d = DESCR.matcher(header), f = FORTRAN.matcher(header), s = SHAPE.matcher(header);
        if (!d.find() || !f.find() || !s.find()) throw new IllegalArgumentException("malformed header: " + oneLine(header.trim()));
        if (f.group(1).equals("True")) throw new IllegalArgumentException("Fortran-order arrays are not supported");
        DType dtype = switch (d.group(1)) {
            case "<f4" -> DType.F32;
            case "<f2" -> DType.F16;
            case "|u1", "<u1" -> DType.U8;
            case "<i4" -> DType.I32;
            case "<i8" -> DType.I64;
            default -> throw new IllegalArgumentException("unsupported dtype " + oneLine(d.group(1)));
        };
        List<Integer> dims = new ArrayList<>();
        for (String part : s.group(1).split(",")) {
            String p = part.trim();
            if (p.isEmpty()) continue;
            try {
                dims.add(Integer.parseInt(p));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("bad dimension '" + oneLine(p) + "' in the shape");
            }
        }
        int[] shape = dims.stream().mapToInt(Integer::intValue).toArray();
        long need;
        try {
            need = Math.multiplyExact(Tensor.numel(shape), (long) dtype.byteSize());
        } catch (ArithmeticException overflow) {
            throw new IllegalArgumentException("shape " + java.util.Arrays.toString(shape) + " has more bytes than a file can hold");
        }
        int dataStart = headerStart + headerLen;
        if (need > bytes.length - dataStart)
            throw new IllegalArgumentException("data truncated: need " + need + " bytes, have " + (bytes.length - dataStart));
        Tensor t = Tensor.allocate(dtype, shape);
        MemorySegment.copy(MemorySegment.ofArray(bytes), dataStart, t.data(), 0, need);
        return t;
    }

    /** Header text for a message: control characters as U+XXXX, at most 200 characters. */
    private static String oneLine(String t) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < t.length() && b.length() < 200; i++) {
            char c = t.charAt(i);
            b.append(c >= 0x20 && c != 0x7f ? String.valueOf(c) : String.format("U+%04X", (int) c));
        }
        return t.length() > 200 ? b + "…" : b.toString();
    }

    /** Writes float32 values with the given shape (C order). */
    public static void write(Path file, float[] values, int... shape) throws IOException {
        if (values.length != Tensor.numel(shape)) throw new IllegalArgumentException(values.length + " values for the shape given");
        AtomicFiles.write(file, out -> write(out, values, shape)); // all of it or nothing at that path
    }

    /** Writes a host tensor's values as float32. */
    public static void write(Path file, Tensor t) throws IOException {
        write(file, t.toFloatArray(), t.shape());
    }

    public static void write(OutputStream out, float[] values, int... shape) throws IOException {
        StringBuilder dims = new StringBuilder();
        for (int i = 0; i < shape.length; i++) {
            dims.append(shape[i]);
            if (shape.length == 1 || i < shape.length - 1) dims.append(shape.length == 1 ? "," : ", ");
        }
        String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
        int total = MAGIC.length + 4 + dict.length() + 1;
        int pad = (64 - total % 64) % 64;
        String header = dict + " ".repeat(pad) + "\n";
        ByteBuffer head = ByteBuffer.allocate(10 + header.length()).order(ByteOrder.LITTLE_ENDIAN);
        head.put(MAGIC).put((byte) 1).put((byte) 0).putShort((short) header.length());
        head.put(header.getBytes(StandardCharsets.ISO_8859_1));
        out.write(head.array());
        byte[] data = new byte[Math.min(values.length, 1 << 18) * 4]; // in chunks: more than 2^29 values would overflow one array
        for (int at = 0; at < values.length; at += data.length / 4) {
            int n = Math.min(data.length / 4, values.length - at);
            MemorySegment.copy(values, at, MemorySegment.ofArray(data), ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0, n);
            out.write(data, 0, n * 4);
        }
    }
}
