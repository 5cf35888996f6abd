package dev.onestep.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.onestep.io.Npy;
import dev.onestep.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** .npy reading (fixtures, --noise, eval ground truth): any bytes give a tensor or one IOException, nothing else. */
class NpyFuzzTest {
    @FuzzTest
    void anyBytesAreATensorOrOneIOException(byte[] bytes) throws IOException {
        Path f = Files.createTempFile("fuzz", ".npy");
        try {
            Files.write(f, bytes);
            try (Tensor t = Npy.read(f)) {
                assertEquals(Tensor.numel(t.shape()) * t.dtype().byteSize(), t.data().byteSize());
            } catch (IOException expected) {
                assertTrue(expected.getMessage().startsWith(f.toString()), expected.getMessage());
                assertFalse(expected.getMessage().contains("\n") || expected.getMessage().contains("\r"), "one line: " + expected.getMessage());
            }
        } finally {
            Files.delete(f);
        }
    }
}
