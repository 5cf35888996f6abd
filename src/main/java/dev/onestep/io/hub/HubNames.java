package dev.onestep.io.hub;

import java.util.Locale;
import java.util.regex.Pattern;

/**
 * The shapes a name coming from a hub server may have before it becomes part of a path in the cache. Everything a
 * server says is untrusted (a mirror in HF_ENDPOINT, a redirect target, a man in the middle of plain HTTP): an
 * ETag is a blob's file name, a commit a snapshot's folder name, and a file name from a listing or a shard index
 * a path under the snapshot. Each is checked here against what the Hugging Face hub actually sends, and refused
 * with a {@link HubException} naming the server's value otherwise.
 */
final class HubNames {
    private HubNames() {}

    /** huggingface_hub's REGEX_COMMIT_HASH. */
    static final Pattern COMMIT = Pattern.compile("[0-9a-f]{40}");
    /** A content hash: the git blob sha1 of a regular file or the sha256 of an LFS file. */
    static final Pattern HASH = Pattern.compile("[0-9a-f]{40}|[0-9a-f]{64}");
    /**
     * An ETag that is not a content hash (some mirrors send their own) but is still a harmless file name: letters,
     * digits, '.', '_', '-', not starting with '.', at most 128 characters.
     */
    private static final Pattern OPAQUE_ETAG = Pattern.compile("[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}");
    /** The longest repository file name accepted (the hub's paths are far shorter). */
    static final int MAX_PATH = 1024;

    /** Whether {@code s} is a full commit hash. */
    static boolean isCommit(String s) { return s != null && COMMIT.matcher(s).matches(); }

    /** Whether {@code etag} (normalised) is a sha1 or sha256 that the finished file can be checked against. */
    static boolean isHash(String etag) { return etag != null && HASH.matcher(etag).matches(); }

    /** Whether {@code etag} (normalised) may name a blob: a hash, or an opaque mirror ETag of safe shape. */
    static boolean isBlobName(String etag) {
        if (etag == null) return false;
        if (isHash(etag)) return true;
        String lower = etag.toLowerCase(Locale.ROOT);
        return OPAQUE_ETAG.matcher(etag).matches() && !lower.endsWith(".incomplete") && !lower.endsWith(".lock")
                && !lower.endsWith(".tmp");
    }

    /** The commit a server named, checked; {@code where} says which response named it. */
    static String commit(String value, String where) {
        if (isCommit(value)) return value;
        throw new HubException(where + " names commit '" + printable(value) + "', which is not a 40-character commit hash; "
                + "refusing to use it as a folder name in the cache");
    }

    /** The ETag a server sent for {@code path}, checked to be usable as a blob's file name. */
    static String blobName(String etag, String path) {
        if (isBlobName(etag)) return etag;
        throw new HubException(path + ": the server's ETag '" + printable(etag) + "' is neither a sha256 nor a git sha1 "
                + "(nor a plain token); refusing to use it as a file name in the cache");
    }

    /**
     * A repository file path as a server named it (a listing's rfilename, a shard index's file name): relative,
     * '/'-separated, no empty, "." or ".." segment, no backslash, no control character, at most {@link #MAX_PATH}.
     */
    static String repoPath(String path, String where) {
        String why = repoPathProblem(path);
        if (why == null) return path;
        throw new HubException(where + " names the file '" + printable(path) + "', which " + why + "; refusing to write it");
    }

    /** Why {@code path} is no acceptable repository file path, or null when it is one. */
    static String repoPathProblem(String path) {
        if (path == null || path.isEmpty()) return "is empty";
        if (path.length() > MAX_PATH) return "is longer than " + MAX_PATH + " characters";
        if (path.startsWith("/")) return "is an absolute path";
        if (path.indexOf('\\') >= 0) return "contains a backslash";
        if (path.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) return "contains a control character";
        if (path.length() > 1 && path.charAt(1) == ':') return "is a drive path";
        for (String seg : path.split("/", -1)) {
            if (seg.isEmpty()) return "has an empty path segment";
            if (seg.equals(".") || seg.equals("..")) return "has a '" + seg + "' segment";
        }
        return null;
    }

    /** A server's value fit for one line of a message: control characters escaped, at most 120 characters. */
    static String printable(String s) {
        if (s == null) return "(none)";
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length() && b.length() < 120; i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == 0x7f) b.append(String.format("\\x%02x", (int) c));
            else b.append(c);
        }
        if (b.length() >= 120 && s.length() > 120) b.append('…');
        return b.toString();
    }
}
