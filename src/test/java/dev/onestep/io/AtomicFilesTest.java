package dev.onestep.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The one atomic writer: temp names that fit the file system's limit, no partial files, and stale temp files swept. */
class AtomicFilesTest {
    @TempDir
    Path tmp;

    private static List<String> names(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void aFinalNameAtTheFileSystemLimitCanBeWritten() throws IOException {
        for (String name : List.of("d".repeat(248) + "_a.npy", "é".repeat(124) + ".npy", "😀".repeat(62) + ".png")) {
            assertTrue(name.getBytes(StandardCharsets.UTF_8).length >= 252, name);
            Path f = tmp.resolve(name);
            AtomicFiles.write(f, out -> out.write(new byte[] {1, 2, 3}));
            assertEquals(3, Files.size(f));
            String t = AtomicFiles.tempName(name, 0x7fffffff);
            assertTrue(t.getBytes(StandardCharsets.UTF_8).length <= AtomicFiles.NAME_MAX, t);
            assertTrue(t.startsWith(".") && t.endsWith(".tmp") && t.contains(".onestep-"), t);
        }
        assertEquals(3, names(tmp).size(), "no temp file left: " + names(tmp));
    }

    @Test
    void aFailedWriteLeavesNothingUnderTheFinalNameAndKeepsTheOldFile() throws IOException {
        Path f = tmp.resolve("x_depth.npy");
        Files.writeString(f, "old");
        IOException e = assertThrows(IOException.class, () -> AtomicFiles.write(f, out -> {
            out.write(new byte[1000]);
            throw new IOException("No space left on device");
        }));
        assertTrue(e.getMessage().contains("x_depth.npy") && e.getMessage().contains("No space left on device"), e.getMessage());
        assertEquals("old", Files.readString(f));
        assertEquals(List.of("x_depth.npy"), names(tmp));
    }

    @Test
    void staleTempFilesOfAKilledRunAreRemovedByTheNextWriteInThatFolder() throws Exception {
        Process p = new ProcessBuilder("true").start();
        p.waitFor();
        long dead = p.pid();
        long alive = ProcessHandle.current().parent().map(ProcessHandle::pid).orElseThrow();
        FileTime old = FileTime.from(Instant.now().minusSeconds(3600));
        Path killed = stale(".x_depth.png.onestep-" + dead + "-0000abcd.tmp", old);
        Path legacy = stale(".x_depth_color.png.1f2e3d4c5b6a7988.tmp", old);
        Path running = stale(".y_depth.npy.onestep-" + alive + "-00001234.tmp", old);     // another run, still going
        Path fresh = stale(".z_normals.npy.3a.tmp", FileTime.from(Instant.now().plusSeconds(60))); // written after we started
        Path user = stale(".notes.tmp", old);                                             // not ours
        Path userHex = stale(".cache.1a.tmp", old);                                       // not one of our outputs
        AtomicFiles.write(tmp.resolve("a_depth.npy"), out -> out.write(1));
        assertFalse(Files.exists(killed), "temp file of a dead run kept");
        assertFalse(Files.exists(legacy), "legacy temp file kept");
        for (Path kept : List.of(running, fresh, user, userHex)) assertTrue(Files.exists(kept), kept + " was deleted");
    }

    private Path stale(String name, FileTime mtime) throws IOException {
        Path f = Files.write(tmp.resolve(name), new byte[64]);
        Files.setLastModifiedTime(f, mtime);
        return f;
    }
}
