package dev.onestep.io.hub;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Fetches one file into blobs/ETAG: bytes go to blobs/ETAG.incomplete, a broken or stalled transfer is resumed
 * from the bytes already there with an HTTP Range request (also across runs), and the finished file is checked
 * against its etag before it is renamed into place: sha256 for LFS files, the git blob sha1 for the others. A file
 * that fails the check is deleted and reported, never linked into a snapshot.
 *
 * <p>A read that gets no byte for HF_HUB_DOWNLOAD_TIMEOUT ({@link TimedBody}) counts as a broken transfer. While a
 * blob is fetched its lock file ({@link HubCacheLayout#lockFile}) is held, so a second process (or thread)
 * fetching the same model waits and then finds the finished blob instead of writing the same .incomplete file.
 */
final class Download {
    private Download() {}

    /** Transfers tried per file before giving up (each resumes where the previous stopped). */
    static final int ATTEMPTS = 4;
    private static final int BUFFER = 1 << 16;
    private static final long BACKOFF_MILLIS = 250;

    /** Makes sure the verified blob for {@code meta} is in the cache; returns its size. */
    static long fetch(HubClient client, HubCacheLayout layout, String revision, String path,
                      HubClient.FileMeta meta, DownloadListener listener) throws IOException {
        if (!meta.isSha256() && !meta.isGitSha1() && meta.size() < 0)
            throw new HubException(path + ": the server sent neither a content hash (its ETag is '" + HubNames.printable(meta.etag())
                    + "') nor the file's size, so a download could not be checked; refusing to cache it");
        Path blob = layout.blob(meta.etag());
        if (isDone(blob, meta)) return Files.size(blob);
        Files.createDirectories(blob.getParent());
        try (BlobLock ignored = BlobLock.acquire(layout.lockFile(meta.etag()), path, listener)) {
            if (isDone(blob, meta)) return Files.size(blob); // another run fetched it while this one waited
            return fetchLocked(client, layout, revision, path, meta, listener);
        }
    }

    private static boolean isDone(Path blob, HubClient.FileMeta meta) throws IOException {
        return Files.isRegularFile(blob) && (meta.size() < 0 || Files.size(blob) == meta.size());
    }

    private static long fetchLocked(HubClient client, HubCacheLayout layout, String revision, String path,
                                    HubClient.FileMeta meta, DownloadListener listener) throws IOException {
        Path blob = layout.blob(meta.etag());
        Path part = layout.incomplete(meta.etag());
        IOException last = null;
        int stalls = 0;
        for (int attempt = 1; attempt <= ATTEMPTS; attempt++) {
            long have = Files.exists(part) ? Files.size(part) : 0;
            if (meta.size() >= 0 && have > meta.size()) {
                Files.delete(part);
                have = 0;
            }
            if (meta.size() >= 0 && have == meta.size()) break;
            if (have > 0) listener.downloadNote(path + ": resuming at " + have + " of " + meta.size() + " bytes");
            try {
                transfer(client, layout.id(), revision, path, part, have, meta.size(), listener);
                if (meta.size() < 0 || Files.size(part) == meta.size()) break;
                last = new IOException(path + ": the transfer ended at " + Files.size(part) + " of " + meta.size() + " bytes");
            } catch (IOException e) {
                last = e;
                if (e instanceof java.net.http.HttpTimeoutException) stalls++;
                if (attempt < ATTEMPTS) listener.downloadNote(path + ": transfer interrupted (" + e.getMessage() + "); retrying");
            }
            if (attempt == ATTEMPTS) throw new HubException(failure(client, path, part, last, stalls), last);
            pause(attempt);
        }
        if (meta.size() >= 0 && Files.size(part) != meta.size())
            throw new HubException(path + ": the download has " + Files.size(part) + " bytes, not the announced " + meta.size());
        verify(part, path, meta, listener);
        Files.move(part, blob, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        long size = Files.size(blob);
        listener.fileDone(path, size);
        return size;
    }

    /** The message when every attempt failed: which file, why, what is kept, and what to change. */
    private static String failure(HubClient client, String path, Path part, IOException last, int stalls) {
        String m = path + ": download failed after " + ATTEMPTS + " attempts (" + last.getMessage() + "); the partial file "
                + part + " is kept and the next run resumes it";
        if (stalls > 0)
            m += ". " + client.endpoint() + " (or its file server) stopped sending " + (stalls == ATTEMPTS ? "every time" : stalls + " time(s)")
                    + " for longer than HF_HUB_DOWNLOAD_TIMEOUT (" + TimedBody.seconds(client.downloadTimeout()) + " s); on a slow or"
                    + " unsteady connection set HF_HUB_DOWNLOAD_TIMEOUT to more seconds (e.g. 60) and run again";
        return m;
    }

    private static void pause(int attempt) throws IOException {
        try {
            Thread.sleep(BACKOFF_MILLIS * attempt);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted between download attempts");
        }
    }

    /**
     * One GET into {@code part}: appended from {@code from} when the server honours the Range (206 with a
     * Content-Range starting there), else written afresh. Never more than the announced {@code total} (or, when none
     * was announced, {@link HubConfig.Limits#maxFileBytes}) is written: a longer body deletes the part and fails.
     */
    private static void transfer(HubClient client, String id, String revision, String path, Path part, long from,
                                 long total, DownloadListener listener) throws IOException {
        HttpResponse<InputStream> r = client.get(id, revision, path, from);
        int status = r.statusCode();
        if (status != 200 && status != 206) {
            r.body().close();
            throw new IOException(path + ": unexpected HTTP " + status + " for a download");
        }
        long start = status == 206 ? contentRangeStart(r) : 0;
        if (status == 206 && start != Math.max(from, 0)) {
            r.body().close();
            Files.deleteIfExists(part); // the next attempt starts afresh
            throw new IOException(path + ": the server answered a request for bytes " + Math.max(from, 0) + "- with Content-Range '"
                    + HubNames.printable(HubClient.header(r, "Content-Range")) + "'");
        }
        boolean append = from > 0 && status == 206;
        long done = append ? from : 0;
        long limit = total >= 0 ? total : client.limits().maxFileBytes();
        try (InputStream in = r.body();
             OutputStream out = Files.newOutputStream(part, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                     append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING)) {
            byte[] buf = new byte[BUFFER];
            long lastReport = 0;
            listener.fileProgress(path, done, total);
            for (int n; (n = in.read(buf, 0, (int) Math.min(buf.length, limit - done + 1))) > 0; ) {
                if (done + n > limit) {
                    out.close();
                    Files.deleteIfExists(part);
                    throw new HubException(path + ": the server sent more than " + (total >= 0 ? "the announced " + total
                            : "the " + limit + " bytes a file without an announced size may have (HubConfig.Limits.maxFileBytes)")
                            + " bytes; the partial file was deleted");
                }
                out.write(buf, 0, n);
                done += n;
                if (done - lastReport >= (1 << 20)) {
                    listener.fileProgress(path, done, total);
                    lastReport = done;
                }
            }
        }
        listener.fileProgress(path, done, total);
    }

    private static void verify(Path part, String path, HubClient.FileMeta meta, DownloadListener listener) throws IOException {
        String kind, actual;
        if (meta.isSha256()) {
            kind = "sha256";
            actual = digest(part, "SHA-256", null);
        } else if (meta.isGitSha1()) {
            kind = "git sha1";
            actual = digest(part, "SHA-1", ("blob " + Files.size(part) + "\0").getBytes(StandardCharsets.US_ASCII));
        } else {
            // an etag that is not a content hash (some mirrors): only the announced size, already enforced, checks it
            listener.downloadNote(path + ": the server's ETag is not a content hash, so only the file's size (" + meta.size()
                    + " bytes) could be checked");
            return;
        }
        if (!actual.equals(meta.etag())) {
            Files.deleteIfExists(part);
            throw new HubException(path + ": checksum mismatch, expected " + kind + " " + meta.etag() + " but the download has "
                    + actual + "; the corrupted file was deleted, run again to download it afresh");
        }
    }

    /** The first byte of a 206 response's Content-Range ("bytes START-END/TOTAL"), or −1 when it has none. */
    private static long contentRangeStart(HttpResponse<?> r) {
        String cr = HubClient.header(r, "Content-Range");
        if (cr == null) return -1;
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\s*bytes\\s+(\\d{1,18})-\\d{1,18}/(\\d{1,18}|\\*)\\s*").matcher(cr);
        return m.matches() ? Long.parseLong(m.group(1)) : -1;
    }

    static String digest(Path file, String algorithm, byte[] prefix) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance(algorithm);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        if (prefix != null) md.update(prefix);
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buf = new byte[BUFFER];
            for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
        }
        return HexFormat.of().formatHex(md.digest());
    }
}
