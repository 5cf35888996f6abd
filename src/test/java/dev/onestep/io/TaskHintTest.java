package dev.onestep.io;

import dev.onestep.Task;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TaskHintTest {
    @Test
    void modelIndexClassNameWins(@TempDir Path tmp) throws IOException {
        Path m = Files.createDirectories(tmp.resolve("my-depth-copy"));
        Files.writeString(m.resolve("model_index.json"), "{\"_class_name\": \"MarigoldNormalsPipeline\"}");
        assertEquals(Task.NORMALS, TaskHint.guess(m).task());
        String w = TaskHint.mismatch(m, Task.DEPTH);
        assertTrue(w != null && w.contains("MarigoldNormalsPipeline") && w.contains("onestep normals"), w);
        assertNull(TaskHint.mismatch(m, Task.NORMALS));
    }

    @Test
    void unetNameOrPathThenFolderName(@TempDir Path tmp) throws IOException {
        Path m = Files.createDirectories(tmp.resolve("checkpoint/unet"));
        Files.writeString(m.resolve("config.json"), "{\"_name_or_path\": \"prs-eth/marigold-depth-v1-0\"}");
        assertEquals(Task.DEPTH, TaskHint.guess(tmp.resolve("checkpoint")).task());
        Path snap = Files.createDirectories(tmp.resolve("models--GonzaloMG--marigold-e2e-ft-normals/snapshots/abc"));
        assertEquals(Task.NORMALS, TaskHint.guess(snap).task());
        assertNull(TaskHint.guess(Files.createDirectories(tmp.resolve("plain"))));
    }
}
