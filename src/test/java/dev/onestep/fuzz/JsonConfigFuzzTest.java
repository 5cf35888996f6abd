package dev.onestep.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.code_intelligence.jazzer.mutation.annotation.NotNull;
import dev.onestep.io.Json;
import dev.onestep.io.WeightsException;
import dev.onestep.io.config.ClipTextConfig;
import dev.onestep.io.config.ModelIndex;
import dev.onestep.io.config.SchedulerConfig;
import dev.onestep.io.config.UNetConfig;
import dev.onestep.io.config.VaeConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The JSON parser and the typed configs on any text: a value, or one IllegalArgumentException (parser) /
 * WeightsException (config, naming the file); never another exception, never a stack overflow on deep nesting.
 */
class JsonConfigFuzzTest {
    @FuzzTest
    void anyTextIsAValueOrOneIllegalArgumentException(@NotNull String text) {
        try {
            Object v = Json.parse(text);
            assertNotNull(Json.describe(v));
        } catch (IllegalArgumentException expected) {
            String m = expected.getMessage();
            assertTrue(m.startsWith("JSON error at ") || m.startsWith("expected a JSON object"), m);
            assertFalse(m.contains("\n") || m.contains("\r"), "one line: " + m);
        }
    }

    @FuzzTest
    void anyConfigFileIsAConfigOrOneWeightsException(byte[] bytes) throws IOException {
        Path dir = Files.createTempDirectory("fuzz");
        Path f = Files.write(dir.resolve("config.json"), bytes);
        try {
            for (int kind = 0; kind < 5; kind++) {
                try {
                    Object c = switch (kind) {
                        case 0 -> UNetConfig.load(f);
                        case 1 -> VaeConfig.load(f);
                        case 2 -> ClipTextConfig.load(f);
                        case 3 -> SchedulerConfig.load(f);
                        default -> ModelIndex.load(f);
                    };
                    assertNotNull(c.toString());
                } catch (WeightsException expected) {
                    assertTrue(expected.getMessage().contains(f.toString()), expected.getMessage());
                }
            }
        } finally {
            Fuzzing.deleteTree(dir);
        }
    }
}
