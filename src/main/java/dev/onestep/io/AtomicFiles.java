package dev.onestep.io;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The one way OneStep writes a file: a temporary file in the target folder, renamed over the target, so a reader
 * never sees it half done and a failure (disk full, a killed run) never leaves a truncated file under the final
 * name. Kept apart from {@link OutputWriters} (images, java.desktop) so JSON reports can be written by a runtime
 * without java.desktop (the GPU bundle's JRE).
 *
 * <p>Temporary names are {@code .NAME.onestep-PID-RANDOM.tmp}, with NAME cut (at a character boundary) so the whole
 * name fits the 255-byte limit of common file systems whatever the final name's length. A run that is killed leaves
 * its temporary file behind; the first write of a later run into that folder removes the ones of ours whose process
 * is gone and that are older than this run (and those of the older {@code .NAME.HEX.tmp} pattern of our outputs).
 */
public final class AtomicFiles {
    private AtomicFiles() {}

    /** Something that writes a file's content to a stream. */
    @FunctionalInterface
    public interface Content {
        void writeTo(OutputStream out) throws IOException;
    }

    /** The longest file name, in bytes, on ext4, XFS, btrfs, APFS and NTFS (255 UTF-16 units there). */
    static final int NAME_MAX = 255;
    private static final String MARK = ".onestep-";
    private static final Pattern OURS = Pattern.compile("\\..*\\.onestep-(\\d{1,19})-[0-9a-f]{8}\\.tmp");
    /** What earlier versions named their temporary outputs: .NAME.HEX.tmp, NAME one of our output files. */
    private static final Pattern LEGACY = Pattern.compile("\\..+\\.(npy|png|json)\\.[0-9a-f]{1,16}\\.tmp");
    private static final long PID = ProcessHandle.current().pid();
    private static final Instant STARTED = ProcessHandle.current().info().startInstant().orElse(Instant.now());
    private static final Set<Path> SWEPT = ConcurrentHashMap.newKeySet();

    /**
     * Writes {@code content} to a temporary file next to {@code path} and renames it onto {@code path}
     * (ATOMIC_MOVE, falling back to REPLACE_EXISTING where the file system cannot). On any failure the temporary
     * file is deleted and the exception, naming the target, is thrown; an existing target is left untouched.
     */
    public static void write(Path path, Content content) throws IOException {
        Path target = path.toAbsolutePath();
        Path dir = target.getParent();
        if (dir == null || target.getFileName() == null) throw new IOException(path + ": no parent folder");
        if (Files.isDirectory(target)) throw new IOException(path + ": is a directory, cannot write a file there");
        if (SWEPT.add(dir)) removeStale(dir);
        Path tmp;
        try {
            // CREATE_NEW with a random name instead of createTempFile: the latter makes 0600 files, while outputs
            // should get the user's umask like any other file they write
            tmp = dir.resolve(tempName(target.getFileName().toString(), ThreadLocalRandom.current().nextInt()));
            Files.newOutputStream(tmp, StandardOpenOption.CREATE_NEW).close();
        } catch (IOException e) {
            throw new IOException(path + ": cannot create a file in " + dir + ": " + e.getMessage(), e);
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

    /** {@code .NAME.onestep-PID-RANDOM.tmp}, NAME shortened until the name fits {@link #NAME_MAX} bytes of UTF-8. */
    static String tempName(String name, int random) {
        String suffix = MARK + PID + "-" + String.format("%08x", random) + ".tmp";
        int budget = NAME_MAX - 1 - suffix.length();
        StringBuilder kept = new StringBuilder();
        int bytes = 0;
        for (int i = 0; i < name.length(); ) {
            int cp = name.codePointAt(i);
            int n = new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8).length;
            if (bytes + n > budget) break;
            kept.appendCodePoint(cp);
            bytes += n;
            i += Character.charCount(cp);
        }
        return "." + kept + suffix;
    }

    /**
     * Deletes the temporary files a killed run left in {@code dir}: ours whose process is gone (or is this one, from
     * before a restart with the same pid) and that were last written before this run started, and legacy ones older
     * than this run. Best effort: a file that cannot be listed or deleted is left.
     */
    static void removeStale(Path dir) {
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, ".*.tmp")) {
            for (Path f : files) {
                String n = f.getFileName().toString();
                Matcher m = OURS.matcher(n);
                boolean stale;
                if (m.matches()) stale = !running(m.group(1)) && olderThanThisRun(f);
                else stale = LEGACY.matcher(n).matches() && olderThanThisRun(f);
                if (stale && Files.isRegularFile(f, java.nio.file.LinkOption.NOFOLLOW_LINKS)) Files.deleteIfExists(f);
            }
        } catch (IOException | RuntimeException ignored) {
            // cleaning up after another run must never fail this one
        }
    }

    private static boolean running(String pid) {
        try {
            long p = Long.parseLong(pid);
            return p != PID && ProcessHandle.of(p).map(ProcessHandle::isAlive).orElse(false);
        } catch (NumberFormatException e) {
            return false;
        }
    }

    private static boolean olderThanThisRun(Path f) throws IOException {
        return Files.getLastModifiedTime(f).toInstant().isBefore(STARTED);
    }
}
