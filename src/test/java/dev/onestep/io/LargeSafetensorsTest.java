package dev.onestep.io;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** Offsets are longs end to end: a sparse 2.3 GB file with a tensor past the 2 GiB mark reads back exactly. */
class LargeSafetensorsTest {
    @TempDir
    Path tmp;

    @Test
    void tensorPastTwoGiB() throws IOException {
        long begin = 2_200_000_000L; // relative to the data area, > 2^31
        float[] values = {1.25f, -7.5f, 3.0e-4f, 42f};
        byte[] data = SafetensorsWriter.f32(values);
        // the tensors tile the data area (a sparse "pad" fills the hole), as the format requires
        String header = "{\"small\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"pad\":{\"dtype\":\"F32\",\"shape\":[" + (begin - 4) / 4 + "],\"data_offsets\":[4," + begin + "]},"
                + "\"big\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[" + begin + "," + (begin + data.length) + "]}}";
        byte[] head = SafetensorsWriter.raw(header, new byte[0]);
        long dataStart = head.length;
        long size = dataStart + begin + data.length;
        Path p = tmp.resolve("big.safetensors");
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(size); // sparse: no disk blocks are written for the hole
            f.seek(0);
            f.write(head);
            f.write(SafetensorsWriter.f32(9f));
            f.seek(dataStart + begin);
            f.write(data);
        } catch (IOException e) {
            Assumptions.abort("filesystem refused a sparse 2.3 GB file: " + e);
        }
        try (SafetensorsFile st = SafetensorsFile.open(p)) {
            assertEquals(size, st.byteSize());
            assertEquals(dataStart + begin, st.info("big").offset());
            assertArrayEquals(values, st.tensor("big").toFloatArray());
            assertEquals(9f, st.tensor("small").getFloat(0));
        }
    }
}
