package dev.onestep.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static dev.onestep.io.SafetensorsWriter.*;
import static org.junit.jupiter.api.Assertions.*;

/** ShardedSafetensors and Weights.openAny: a good index, and each inconsistency named. */
class ShardedSafetensorsTest {
    @TempDir
    Path tmp;

    private Path index(String weightMap) throws IOException {
        return Files.writeString(tmp.resolve("diffusion_pytorch_model.safetensors.index.json"),
                "{\"metadata\": {\"total_size\": 24}, \"weight_map\": {" + weightMap + "}}");
    }

    private void shards() throws IOException {
        new SafetensorsWriter().add("a", "F32", shape(2), f32(1, 2)).add("b", "F32", shape(1), f32(3))
                .write(tmp.resolve("m-00001-of-00002.safetensors"));
        new SafetensorsWriter().add("c", "F32", shape(3), f32(4, 5, 6))
                .write(tmp.resolve("m-00002-of-00002.safetensors"));
    }

    private WeightsException rejects(Path index, String... parts) {
        WeightsException e = assertThrows(WeightsException.class, () -> Weights.openAny(index).close());
        for (String part : parts) assertTrue(e.getMessage().contains(part), () -> "message '" + e.getMessage() + "' lacks '" + part + "'");
        return e;
    }

    @Test
    void readsAcrossShards() throws IOException {
        shards();
        Path idx = index("\"a\": \"m-00001-of-00002.safetensors\", \"c\": \"m-00002-of-00002.safetensors\", \"b\": \"m-00001-of-00002.safetensors\"");
        try (WeightSource w = Weights.openAny(idx)) {
            assertInstanceOf(ShardedSafetensors.class, w);
            assertEquals(List.of("a", "b", "c"), List.copyOf(w.keys()));
            assertArrayEquals(new float[] {4, 5, 6}, w.tensor("c").toFloatArray());
            assertArrayEquals(new float[] {3}, w.tensor("b").toFloatArray());
            assertEquals(tmp.resolve("m-00002-of-00002.safetensors").toAbsolutePath(), w.info("c").file().toAbsolutePath());
            assertEquals(2, ((ShardedSafetensors) w).shards().size(), "each shard opened once");
            assertEquals(24L, ((ShardedSafetensors) w).metadata().get("total_size"));
            assertTrue(w.description().contains("2 shards"));
            WeightsException e = assertThrows(WeightsException.class, () -> w.tensor("zz"));
            assertTrue(e.getMessage().contains("no tensor 'zz'"));
        }
    }

    @Test
    void missingShard() throws IOException {
        shards();
        Path idx = index("\"a\": \"m-00001-of-00002.safetensors\", \"c\": \"m-00003-of-00003.safetensors\"");
        rejects(idx, idx.toString(), "shard 'm-00003-of-00003.safetensors' (holding 'c') not found");
    }

    @Test
    void tensorMissingFromItsShard() throws IOException {
        shards();
        Path idx = index("\"a\": \"m-00001-of-00002.safetensors\", \"c\": \"m-00001-of-00002.safetensors\"");
        rejects(idx, idx.toString(), "puts tensor 'c' in shard 'm-00001-of-00002.safetensors', but that shard does not contain it");
    }

    @Test
    void tensorInTwoShards() throws IOException {
        shards();
        new SafetensorsWriter().add("c", "F32", shape(1), f32(9)).add("d", "F32", shape(1), f32(8)).write(tmp.resolve("m-extra.safetensors"));
        Path idx = index("\"c\": \"m-00002-of-00002.safetensors\", \"d\": \"m-extra.safetensors\"");
        rejects(idx, idx.toString(), "tensor 'c' is present in two shards, 'm-00002-of-00002.safetensors' and 'm-extra.safetensors'");
    }

    @Test
    void shardNamesCannotEscapeTheFolder() throws IOException {
        shards();
        for (String bad : List.of("../m-00001-of-00002.safetensors", "sub/x.safetensors", "/etc/passwd", "..", "", "..\\\\x.safetensors")) {
            Path idx = index("\"a\": \"" + bad + "\"");
            rejects(idx, "shard names must be plain file names");
        }
    }

    @Test
    void badIndexFiles() throws IOException {
        Path idx = tmp.resolve("x.safetensors.index.json");
        Files.writeString(idx, "{\"metadata\": {}}");
        rejects(idx, idx.toString(), "missing key 'weight_map'");
        Files.writeString(idx, "{\"weight_map\": {\"a\": 3}}");
        rejects(idx, "weight_map entry 'a' should be a shard file name, got an integer 3");
        Files.writeString(idx, "{\"weight_map\": ");
        rejects(idx, idx.toString(), "not valid JSON");
    }

    @Test
    void openAnyChoosesByName() throws IOException {
        Path single = new SafetensorsWriter().add("a", "F32", shape(1), f32(1)).write(tmp.resolve("model.safetensors"));
        try (WeightSource w = Weights.openAny(single)) {
            assertInstanceOf(SafetensorsFile.class, w);
        }
        Path bin = Files.writeString(tmp.resolve("pytorch_model.bin"), "x");
        WeightsException e = assertThrows(WeightsException.class, () -> Weights.openAny(bin));
        assertTrue(e.getMessage().contains("PyTorch pickles are not supported"), e.getMessage());
        assertTrue(Weights.isIndex("diffusion_pytorch_model.safetensors.index.fp16.json"));
        assertFalse(Weights.isIndex("diffusion_pytorch_model.safetensors"));
    }
}
