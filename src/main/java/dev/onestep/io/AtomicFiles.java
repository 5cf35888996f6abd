package dev.onestep.io;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Whole-file writes that a reader never sees half done: a temporary file in the target folder, renamed over the
 * target. Kept apart from {@link OutputWriters} (images, java.desktop) so JSON reports can be written by a runtime
 * without java.desktop (the GPU bundle's JRE).
 */
public final class AtomicFiles {
    private AtomicFiles() {}

    /** Something that writes a file's content to a stream. */
    @FunctionalInterface
    public interface Content {
        void writeTo(OutputStream out) throws IOException;
    }

    /**
     * Writes {@code content} to a temporary file next to {@code path} and renames it onto {@code path}
     * (ATOMIC_MOVE, falling back to REPLACE_EXISTING where the file system cannot). On any failure the temporary
     * file is deleted and the exception, naming the target, is thrown; an existing target is left untouched.
     */
    public static void write(Path path, Content content) throws IOException {
        Path target = path.toAbsolutePath();
        Path dir = target.getParent();
        if (dir == null) throw new IOException(path + ": no parent folder");
        if (Files.isDirectory(target)) throw new IOException(path + ": is a directory, cannot write a file there");
        Path tmp;
        try {
            // CREATE_NEW with a random name instead of createTempFile: the latter makes 0600 files, while outputs
            // should get the user's umask like any other file they write
            tmp = dir.resolve("." + target.getFileName() + "." + Long.toHexString(java.util.concurrent.ThreadLocalRandom.current().nextLong()) + ".tmp");
            Files.newOutputStream(tmp, java.nio.file.StandardOpenOption.CREATE_NEW).close();
        } catch (IOException e) {
            throw new IOException(path + ": cannot create a file in " + dir + ": " + e, e);
        }
        boolean done = false;
        try {
            try (OutputStream out = Files.newOutputStream(tmp)) {
                content.writeTo(out);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            done = true;
        } catch (IOException | RuntimeException e) {
            throw new IOException(path + ": write failed: " + e.getMessage(), e);
        } finally {
            if (!done) Files.deleteIfExists(tmp);
        }
    }
}
