package dev.onestep.io;

import dev.onestep.tensor.DType;
import dev.onestep.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static dev.onestep.io.SafetensorsWriter.*;
import static org.junit.jupiter.api.Assertions.*;

/** SafetensorsFile: a hand-made file round-trips, and every kind of corruption is a WeightsException naming file, tensor and problem. */
class SafetensorsFileTest {
    @TempDir
    Path tmp;

    private Path file(byte[] bytes) throws IOException {
        return Files.write(tmp.resolve("w.safetensors"), bytes);
    }

    /** Opens a corrupt file and checks the message names the file and contains each part. */
    private void rejects(byte[] bytes, String... parts) throws IOException {
        Path p = file(bytes);
        WeightsException e = assertThrows(WeightsException.class, () -> SafetensorsFile.open(p).close());
        assertTrue(e.getMessage().startsWith(p.toString() + ":"), () -> "message does not start with the file: " + e.getMessage());
        for (String part : parts)
            assertTrue(e.getMessage().contains(part), () -> "message '" + e.getMessage() + "' lacks '" + part + "'");
    }

    private static String entry(String name, String dtype, String shape, long begin, long end) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + begin + "," + end + "]}";
    }

    @Test
    void roundTripsAllDtypes() throws IOException {
        float[] f = {1.5f, -2.25f, 3e-3f, 65504f, -0.0f, 1e-7f};
        Path p = new SafetensorsWriter()
                .metadata(Map.of("format", "pt"))
                .add("w.f32", "F32", shape(2, 3), f32(f))
                .add("w.f16", "F16", shape(3, 2), f16(f))
                .add("w.bf16", "BF16", shape(6), bf16(f))
                .add("ids", "I64", shape(1, 3), i64(49406, 49407, -5))
                .add("scalar", "F32", shape(), f32(7f))
                .add("empty", "F32", shape(0, 4), new byte[0])
                .write(tmp.resolve("ok.safetensors"));
        try (SafetensorsFile st = SafetensorsFile.open(p)) {
            assertEquals(List.of("empty", "ids", "scalar", "w.bf16", "w.f16", "w.f32"), List.copyOf(st.keys()), "sorted keys");
            assertEquals(Map.of("format", "pt"), st.metadata());
            Tensor t = st.tensor("w.f32");
            assertEquals(DType.F32, t.dtype());
            assertArrayEquals(new int[] {2, 3}, t.shape());
            assertArrayEquals(f, t.toFloatArray());
            Tensor h = st.tensor("w.f16");
            assertEquals(DType.F16, h.dtype());
            for (int i = 0; i < f.length; i++) assertEquals(Float.float16ToFloat(Float.floatToFloat16(f[i])), h.getFloat(i));
            Tensor b = st.tensor("w.bf16");
            assertEquals(DType.BF16, b.dtype());
            for (int i = 0; i < f.length; i++) assertEquals(DType.bf16ToF32(DType.f32ToBf16(f[i])), b.getFloat(i));
            Tensor ids = st.tensor("ids");
            assertEquals(DType.I64, ids.dtype());
            assertEquals(49407L, ids.data().getAtIndex(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, 1));
            assertEquals(-5f, ids.getFloat(2));
            assertEquals(7f, st.tensor("scalar").getFloat(0));
            assertEquals(0, st.tensor("empty").numel());
            TensorInfo info = st.info("w.f16");
            assertEquals(p, info.file());
            assertEquals(12, info.length());
            assertNull(st.info("nope"));
            WeightsException e = assertThrows(WeightsException.class, () -> st.tensor("nope"));
            assertTrue(e.getMessage().contains("no tensor 'nope'") && e.getMessage().contains(p.toString()), e.getMessage());
        }
    }

    /** As the format's reference reader (InvalidOffset, MetadataIncompleteBuffer): the tensors tile the data area exactly. */
    @Test
    void holesAndTrailingBytesAreRefused() throws IOException {
        String gapped = "{" + entry("a", "F32", "[2]", 4, 12) + "," + entry("b", "F32", "[1]", 20, 24) + "}";
        rejects(raw(gapped, new byte[24]), "gap of 4 bytes at [0, 4) before tensor 'a'");
        String inner = "{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[1]", 12, 16) + "}";
        rejects(raw(inner, new byte[16]), "gap of 4 bytes at [8, 12) before tensor 'b'");
        String tight = "{" + entry("a", "F32", "[2]", 0, 8) + "}";
        rejects(raw(tight, new byte[9]), "1 bytes after the last tensor ('a' ends at byte 8 of the 9-byte data area)");
        rejects(raw("{}", new byte[3]), "3 bytes after the last tensor");
        try (SafetensorsFile st = SafetensorsFile.open(file(raw(tight, f32(1, 2))))) {
            assertArrayEquals(new float[] {1, 2}, st.tensor("a").toFloatArray());
        }
    }

    /** A header length one byte short parses (the cut byte is padding) but shifts the data area: trailing bytes. */
    @Test
    void headerLengthOneByteShortIsRefused() throws IOException {
        Path good = new SafetensorsWriter().add("a", "F32", shape(2), f32(1, 2)).write(tmp.resolve("good.safetensors"));
        byte[] b = Files.readAllBytes(good);
        long n = java.nio.ByteBuffer.wrap(b, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        java.nio.ByteBuffer.wrap(b, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(n - 1);
        assertEquals(' ', (char) b[(int) (8 + n - 1)], "the writer pads its header with spaces");
        rejects(b, "1 bytes after the last tensor");
    }

    @Test
    void useAfterCloseIsAnExceptionNotACrash() throws IOException {
        Path p = new SafetensorsWriter().add("a", "F32", shape(2), f32(1, 2)).write(tmp.resolve("c.safetensors"));
        SafetensorsFile st = SafetensorsFile.open(p);
        Tensor view = st.tensor("a");
        st.close();
        st.close(); // idempotent
        assertThrows(IllegalStateException.class, () -> st.tensor("a"));
        assertThrows(IllegalStateException.class, () -> view.getFloat(0), "the arena is closed, the view is invalid");
    }

    @Test
    void missingFile() {
        Path p = tmp.resolve("absent.safetensors");
        WeightsException e = assertThrows(WeightsException.class, () -> SafetensorsFile.open(p));
        assertEquals(p + ": file not found", e.getMessage());
    }

    @Test
    void truncatedFile() throws IOException {
        rejects(new byte[0], "file is 0 bytes, shorter than the 8-byte header length");
        rejects(new byte[] {1, 2, 3, 4, 5}, "file is 5 bytes");
    }

    @Test
    void headerLengthZero() throws IOException {
        rejects(raw(0, new byte[0], new byte[16]), "header length is 0");
    }

    @Test
    void headerLengthPastEnd() throws IOException {
        rejects(raw(100, "{}      ".getBytes(StandardCharsets.US_ASCII), new byte[0]), "header length 100 runs past the end of the file (16 bytes)");
    }

    @Test
    void headerLengthHuge() throws IOException {
        rejects(raw(200L * 1024 * 1024, new byte[8], new byte[0]), "header length 209715200 is above the 104857600-byte limit");
        rejects(raw(-1L, new byte[8], new byte[0]), "header length 18446744073709551615 is above"); // unsigned
    }

    @Test
    void headerNotJson() throws IOException {
        rejects(raw("{\"a\": [1, 2", new byte[0]), "header: not valid JSON", "JSON error at");
        rejects(raw("{\"a\":1,\"a\":2}", new byte[0]), "duplicate key \"a\"");
    }

    @Test
    void headerNotUtf8() throws IOException {
        byte[] bad = {'{', '"', (byte) 0xC3, (byte) 0x28, '"', ':', '1', '}'};
        rejects(raw(bad.length, bad, new byte[0]), "header: not valid UTF-8");
    }

    @Test
    void headerNotAnObject() throws IOException {
        rejects(raw("[1, 2, 3]", new byte[0]), "header: expected a JSON object, got a list of 3");
    }

    @Test
    void entryShapeErrors() throws IOException {
        rejects(raw("{\"t\": 5}", new byte[0]), "tensor 't'", "entry should be an object, got an integer 5");
        rejects(raw("{\"t\":{\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[4]), "tensor 't'", "missing 'dtype'");
        rejects(raw("{\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", new byte[4]), "tensor 't'", "missing 'shape'");
        rejects(raw("{\"t\":{\"dtype\":\"F32\",\"shape\":[1]}}", new byte[4]), "tensor 't'", "missing 'data_offsets'");
        rejects(raw("{\"t\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[4]), "'dtype' should be a string");
        rejects(raw("{\"t\":{\"dtype\":\"F32\",\"shape\":\"1\",\"data_offsets\":[0,4]}}", new byte[4]), "'shape' should be an integer list");
        rejects(raw("{\"t\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", new byte[4]), "dimension 0 should be an integer, got a number 1.5");
        rejects(raw("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", new byte[4]), "'data_offsets' should be two integers");
        rejects(raw("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.0]}}", new byte[4]), "'data_offsets' should be two integers");
        rejects(raw("{\"__metadata__\":{\"format\":1}}", new byte[0]), "__metadata__ 'format' should be a string");
    }

    @Test
    void unknownDtype() throws IOException {
        rejects(raw("{" + entry("conv.weight", "F64", "[1]", 0, 8) + "}", new byte[8]),
                "tensor 'conv.weight'", "unknown dtype 'F64'", "supported: F32, F16, BF16, I64, I32, U8");
    }

    @Test
    void negativeDimension() throws IOException {
        rejects(raw("{" + entry("t", "F32", "[2,-3]", 0, 8) + "}", new byte[8]), "tensor 't'", "negative dimension -3");
    }

    @Test
    void dimensionBeyondInt() throws IOException {
        rejects(raw("{" + entry("t", "U8", "[3000000000]", 0, 8) + "}", new byte[8]), "tensor 't'", "dimension 3000000000 is larger than");
    }

    @Test
    void overflowingShape() throws IOException {
        rejects(raw("{" + entry("t", "F32", "[2147483647,2147483647,2147483647]", 0, 8) + "}", new byte[8]),
                "tensor 't'", "is too large", "overflows a long");
        rejects(raw("{" + entry("t", "F32", "[2147483647,2147483647]", 0, 8) + "}", new byte[8]), "overflows a long"); // numel fits, bytes do not
    }

    @Test
    void sizeMismatch() throws IOException {
        rejects(raw("{" + entry("conv_in.weight", "F32", "[32,8,3,3]", 0, 100) + "}", new byte[100]),
                "tensor 'conv_in.weight': data_offsets [0, 100] hold 100 bytes but F32[32, 8, 3, 3] needs 9216");
    }

    @Test
    void beginAfterEnd() throws IOException {
        rejects(raw("{" + entry("t", "F32", "[1]", 8, 4) + "}", new byte[8]), "tensor 't'", "data_offsets [8, 4] have begin > end");
        rejects(raw("{" + entry("t", "F32", "[1]", -4, 0) + "}", new byte[8]), "tensor 't'", "are negative");
    }

    @Test
    void offsetsPastDataArea() throws IOException {
        rejects(raw("{" + entry("t", "F32", "[4]", 0, 16) + "}", new byte[12]), "tensor 't'",
                "data_offsets [0, 16] run past the end of the data area (12 bytes)");
        rejects(raw("{" + entry("t", "F32", "[1]", 9223372036854775800L, 9223372036854775804L) + "}", new byte[12]), "run past the end");
    }

    @Test
    void overlappingTensors() throws IOException {
        String h = "{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 4, 12) + "}";
        rejects(raw(h, new byte[12]), "tensor 'b' (data_offsets [4, 12]) overlaps tensor 'a' (data_offsets [0, 8])");
        String same = "{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 0, 8) + "}";
        rejects(raw(same, new byte[8]), "overlaps");
        // An empty tensor occupies no bytes, but sits where the previous one ends, as the reference requires.
        String empty = "{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("z", "F32", "[0]", 8, 8) + "}";
        try (SafetensorsFile st = SafetensorsFile.open(file(raw(empty, new byte[8])))) {
            assertEquals(2, st.keys().size());
        }
        String inside = "{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("z", "F32", "[0]", 4, 4) + "}";
        rejects(raw(inside, new byte[8]), "overlaps");
    }
}
