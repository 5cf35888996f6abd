package dev.onestep.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.onestep.io.SafetensorsFile;
import dev.onestep.io.ShardedSafetensors;
import dev.onestep.io.TensorInfo;
import dev.onestep.io.WeightScan;
import dev.onestep.io.WeightsException;
import dev.onestep.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The weights readers on any bytes: a checkpoint opens with every tensor inside its file, or one WeightsException
 * naming the file; never another exception, never a read outside the mapping (each tensor's first and last byte
 * are read, and the NaN/Inf scan reads all of them).
 */
class SafetensorsFuzzTest {
    @FuzzTest
    void anySafetensorsFileOpensWithTensorsInsideItOrIsOneWeightsException(byte[] bytes) throws IOException {
        Path dir = Files.createTempDirectory("fuzz");
        Path f = Files.write(dir.resolve("model.safetensors"), bytes);
        try (SafetensorsFile st = SafetensorsFile.open(f)) {
            readAll(st.keys(), st::info, st::tensor, st.byteSize());
            WeightScan.scan(st);
        } catch (WeightsException expected) {
            assertTrue(expected.getMessage().contains(f.toString()), expected.getMessage());
        } finally {
            Fuzzing.deleteTree(dir);
        }
    }

    /** A shard index (model.safetensors.index.json) of any text, beside one well-formed shard. */
    @FuzzTest
    void anyShardIndexOpensOrIsOneWeightsException(byte[] index) throws IOException {
        Path dir = Files.createTempDirectory("fuzz");
        try {
            Files.write(dir.resolve("model-00001-of-00001.safetensors"), Fuzzing.tinySafetensors());
            Path idx = Files.write(dir.resolve("model.safetensors.index.json"), index);
            try (ShardedSafetensors st = ShardedSafetensors.open(idx)) {
                readAll(st.keys(), st::info, st::tensor, Long.MAX_VALUE);
                WeightScan.scan(st);
            } catch (WeightsException expected) {
                assertFalse(expected.getMessage().isBlank());
            }
        } finally {
            Fuzzing.deleteTree(dir);
        }
    }

    private static void readAll(Iterable<String> keys, java.util.function.Function<String, TensorInfo> info,
                                java.util.function.Function<String, Tensor> tensor, long fileBytes) {
        for (String k : keys) {
            TensorInfo ti = info.apply(k);
            assertTrue(ti.offset() >= 0 && ti.length() >= 0 && ti.offset() + ti.length() <= fileBytes, k + " outside its file");
            Tensor t = tensor.apply(k);
            assertEquals(Tensor.numel(t.shape()) * t.dtype().byteSize(), t.data().byteSize(), k);
            if (t.data().byteSize() > 0) {
                t.data().get(ValueLayout.JAVA_BYTE, 0);
                t.data().get(ValueLayout.JAVA_BYTE, t.data().byteSize() - 1);
            }
        }
    }
}
