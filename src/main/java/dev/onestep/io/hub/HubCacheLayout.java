package dev.onestep.io.hub;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * One model's folder in the Hugging Face hub cache, laid out as huggingface_hub's file_download.py does so
 * Python tools and OneStep share downloads:
 * <pre>
 * models--ORG--NAME/
 *   blobs/ETAG                         the content (ETAG = sha256 for LFS files, git sha1 otherwise)
 *   blobs/ETAG.incomplete              a transfer in progress (resumed with an HTTP Range request)
 *   snapshots/COMMIT/unet/config.json  → ../../../blobs/ETAG (relative symlink)
 *   refs/main                          COMMIT (a branch or tag: refs/v1.0, refs/refs/pr/1 for a pull request)
 * .locks/models--ORG--NAME/ETAG.lock   held (FileChannel.lock) while a process fetches blobs/ETAG
 * </pre>
 * Every write is a rename into place, so concurrent runs (threads or processes) sharing a cache never see a
 * half-written ref or link.
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

    /**
     * blobs/ETAG. Like every path this class hands out for a name that came from a server, the name is checked
     * first ({@link HubNames}: a hash or a plain token, never a path) and the result must lie inside the cache.
     */
    public Path blob(String etag) { return inside(repoDir.resolve("blobs").resolve(HubNames.blobName(etag, "blob"))); }

    public Path incomplete(String etag) {
        return inside(repoDir.resolve("blobs").resolve(HubNames.blobName(etag, "blob") + ".incomplete"));
    }

    /** The lock file of a blob, where huggingface_hub keeps it: CACHE/.locks/models--ORG--NAME/ETAG.lock. */
    public Path lockFile(String etag) {
        Path locks = repoDir.getParent().resolve(".locks");
        Path p = locks.resolve(repoDir.getFileName().toString()).resolve(HubNames.blobName(etag, "blob") + ".lock").normalize();
        if (!p.startsWith(locks.normalize())) throw new HubException("lock file outside the cache: " + p);
        return p;
    }

    /** snapshots/COMMIT; {@code commit} must be a full 40-hex commit hash. */
    public Path snapshot(String commit) {
        return inside(repoDir.resolve("snapshots").resolve(HubNames.commit(commit, "snapshot")));
    }

    /** {@code p} normalised, after checking that it lies inside this model's cache folder. */
    private Path inside(Path p) {
        Path n = p.normalize();
        if (!n.startsWith(repoDir.normalize()) || n.equals(repoDir.normalize()))
            throw new HubException("refusing to write outside the cache folder " + repoDir + ": " + p);
        return n;
    }

    /** refs/REVISION; a name with '/' (refs/pr/1) is a nested path, as huggingface_hub writes it. */
    public Path ref(String revision) {
        Path refs = repoDir.resolve("refs"), r = refs.resolve(revision).normalize();
        if (!r.startsWith(refs) || r.equals(refs)) throw new IllegalArgumentException("not a revision name: " + revision);
        return r;
    }

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
        Path tmp = Files.createTempFile(r.getParent(), "." + r.getFileName(), ".tmp"); // own name: another run may write too
        try {
            Files.writeString(tmp, commit);
            Files.move(tmp, r, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * The snapshot to use offline: refs/REVISION's, else a REVISION that is itself a cached commit, else (for main
     * only, e.g. a cache copied without refs/) the only snapshot there is unless another ref claims it; null when none.
     */
    public Path cachedSnapshot(String revision) throws IOException {
        String c = readRef(revision);
        if (HubNames.isCommit(c) && Files.isDirectory(snapshot(c))) return snapshot(c);
        if (COMMIT.matcher(revision).matches()) return Files.isDirectory(snapshot(revision)) ? snapshot(revision) : null;
        if (!revision.equals(Revision.DEFAULT)) return null;
        Path snaps = repoDir.resolve("snapshots");
        if (!Files.isDirectory(snaps)) return null;
        try (var s = Files.list(snaps)) {
            List<Path> all = s.filter(Files::isDirectory).toList();
            return all.size() == 1 && !refCommits().contains(all.get(0).getFileName().toString()) ? all.get(0) : null;
        }
    }

    /** The commits named by any file under refs/. */
    private Set<String> refCommits() throws IOException {
        Path refs = repoDir.resolve("refs");
        if (!Files.isDirectory(refs)) return Set.of();
        Set<String> out = new HashSet<>();
        try (var s = Files.walk(refs)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) out.add(Files.readString(p).strip());
        }
        return out;
    }

    /**
     * Links snapshots/COMMIT/PATH to blobs/ETAG with a relative symlink (as huggingface_hub's _create_symlink);
     * where the file system has no symlinks the blob is copied instead. The link (or copy) is made under a name
     * of its own and renamed over the pointer, so a run linking the same file at the same time does no harm.
     */
    public Path link(String commit, String path, String etag) throws IOException {
        Path pointer = snapshot(commit).resolve(HubNames.repoPath(path, "the link")).normalize();
        if (!pointer.startsWith(snapshot(commit)) || pointer.equals(snapshot(commit)))
            throw new HubException("file path escapes the snapshot: " + HubNames.printable(path));
        Files.createDirectories(pointer.getParent());
        Path target = pointer.getParent().relativize(blob(etag));
        if (Files.isSymbolicLink(pointer) && Files.readSymbolicLink(pointer).equals(target)) return pointer;
        Path tmp = pointer.resolveSibling("." + pointer.getFileName() + "." + UUID.randomUUID() + ".tmp");
        try {
            try {
                Files.createSymbolicLink(tmp, target);
            } catch (UnsupportedOperationException | IOException e) {
                Files.copy(blob(etag), tmp, StandardCopyOption.REPLACE_EXISTING);
            }
            Files.move(tmp, pointer, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
        return pointer;
    }
}
