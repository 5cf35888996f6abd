package dev.onestep.io.hub;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.regex.Pattern;

/**
 * One model's folder in the Hugging Face hub cache, laid out as huggingface_hub's file_download.py does so
 * Python tools and OneStep share downloads:
 * <pre>
 * models--ORG--NAME/
 *   blobs/ETAG                         the content (ETAG = sha256 for LFS files, git sha1 otherwise)
 *   blobs/ETAG.incomplete              a transfer in progress (resumed with an HTTP Range request)
 *   snapshots/COMMIT/unet/config.json  → ../../../blobs/ETAG (relative symlink)
 *   refs/main                          COMMIT
 * </pre>
 */
public final class HubCacheLayout {
    private static final Pattern ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*");
    private static final Pattern COMMIT = Pattern.compile("[0-9a-f]{40}");

    private final Path repoDir;
    private final String id;

    public HubCacheLayout(Path cacheDir, String id) {
        if (!isId(id)) throw new IllegalArgumentException("not a Hugging Face model id (ORG/NAME): " + id);
        this.id = id;
        this.repoDir = cacheDir.resolve("models--" + id.replace("/", "--"));
    }

    /** Whether {@code s} has the shape of a hub id, ORG/NAME. */
    public static boolean isId(String s) { return s != null && ID.matcher(s).matches(); }

    public String id() { return id; }

    public Path repoDir() { return repoDir; }

    public Path blob(String etag) { return repoDir.resolve("blobs").resolve(etag); }

    public Path incomplete(String etag) { return repoDir.resolve("blobs").resolve(etag + ".incomplete"); }

    public Path snapshot(String commit) { return repoDir.resolve("snapshots").resolve(commit); }

    public Path ref(String revision) { return repoDir.resolve("refs").resolve(revision); }

    /** The commit refs/REVISION points to, or null. */
    public String readRef(String revision) throws IOException {
        Path r = ref(revision);
        if (!Files.isRegularFile(r)) return null;
        String c = Files.readString(r).strip();
        return c.isEmpty() ? null : c;
    }

    public void writeRef(String revision, String commit) throws IOException {
        Path r = ref(revision);
        Files.createDirectories(r.getParent());
        Path tmp = r.resolveSibling("." + revision + ".tmp");
        Files.writeString(tmp, commit);
        Files.move(tmp, r, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /**
     * The snapshot to use offline: refs/REVISION's, else a REVISION that is itself a cached commit, else the only
     * snapshot there is; null when none.
     */
    public Path cachedSnapshot(String revision) throws IOException {
        String c = readRef(revision);
        if (c != null && Files.isDirectory(snapshot(c))) return snapshot(c);
        if (COMMIT.matcher(revision).matches() && Files.isDirectory(snapshot(revision))) return snapshot(revision);
        Path snaps = repoDir.resolve("snapshots");
        if (!Files.isDirectory(snaps)) return null;
        try (var s = Files.list(snaps)) {
            List<Path> all = s.filter(Files::isDirectory).toList();
            return all.size() == 1 ? all.get(0) : null;
        }
    }

    /**
     * Links snapshots/COMMIT/PATH to blobs/ETAG with a relative symlink (as huggingface_hub's _create_symlink);
     * where the file system has no symlinks the blob is copied instead.
     */
    public Path link(String commit, String path, String etag) throws IOException {
        Path pointer = snapshot(commit).resolve(path).normalize();
        if (!pointer.startsWith(snapshot(commit))) throw new IOException("file path escapes the snapshot: " + path);
        Files.createDirectories(pointer.getParent());
        Path target = pointer.getParent().relativize(blob(etag));
        Files.deleteIfExists(pointer);
        try {
            Files.createSymbolicLink(pointer, target);
        } catch (FileAlreadyExistsException e) {
            throw e;
        } catch (UnsupportedOperationException | IOException e) {
            Files.copy(blob(etag), pointer, StandardCopyOption.REPLACE_EXISTING);
        }
        return pointer;
    }
}
