package dev.onestep.io;

import dev.onestep.tensor.DType;
import dev.onestep.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class NpyTest {
    @TempDir Path tmp;

    @Test
    void float32RoundTripsWithItsShape() throws IOException {
        float[] v = new float[300_000]; // more than one write chunk
        for (int i = 0; i < v.length; i++) v[i] = i * 0.25f - 7;
        Path f = tmp.resolve("a.npy");
        Npy.write(f, v, 3, 100, 1000);
        try (Tensor t = Npy.read(f)) {
            assertEquals(DType.F32, t.dtype());
            assertArrayEquals(new int[] {3, 100, 1000}, t.shape());
            assertArrayEquals(v, t.toFloatArray());
        }
        byte[] b = Files.readAllBytes(f);
        assertEquals(0, (10 + ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getShort(8)) % 64, "data starts 64-byte aligned");
    }

    @Test
    void aWriteThatFailsLeavesNothingAtThePath() {
        Path f = tmp.resolve("b.npy");
        assertThrows(IllegalArgumentException.class, () -> Npy.write(f, new float[5], 2, 2));
        assertFalse(Files.exists(f));
    }

    /** Shapes whose byte count overflows a long, negative and non-numeric dimensions, short data: one IOException each. */
    @Test
    void hostileHeadersAreOneIOException() throws IOException {
        String[] shapes = {"(4611686018427387904,)", "(2147483647, 2147483647, 2147483647)", "(1073741824, 1073741824, 4)",
                "(-1,)", "(2, -3)", "(x,)", "(99999999999,)", "(1000,)"};
        for (String shape : shapes) {
            Path f = tmp.resolve("h.npy");
            Files.write(f, npy("{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }", new byte[16]));
            IOException e = assertThrows(IOException.class, () -> Npy.read(f), shape);
            assertTrue(e.getMessage().startsWith(f + ": not a readable .npy file: "), e.getMessage());
        }
        Path f = tmp.resolve("v.npy");
        byte[] b = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", new byte[4]);
        b[6] = 9;
        Files.write(f, b);
        assertTrue(assertThrows(IOException.class, () -> Npy.read(f)).getMessage().contains("unsupported .npy version 9"));
        b[6] = 2; // a version-2 header length read from the bytes that were a version-1 length: past the end
        Files.write(f, b);
        assertThrows(IOException.class, () -> Npy.read(f));
    }

    @Test
    void theOtherDtypesAreReadAsTheyAre() throws IOException {
        Path f = tmp.resolve("u.npy");
        Files.write(f, npy("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }", new byte[] {1, 2, 3, (byte) 255}));
        try (Tensor t = Npy.read(f)) {
            assertEquals(DType.U8, t.dtype());
            assertArrayEquals(new float[] {1, 2, 3, 255}, t.toFloatArray());
        }
    }

    private static byte[] npy(String dict, byte[] data) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0});
        String header = dict + "\n";
        out.write(header.length() & 0xFF);
        out.write(header.length() >> 8);
        out.writeBytes(header.getBytes(StandardCharsets.ISO_8859_1));
        out.writeBytes(data);
        return out.toByteArray();
    }
}
