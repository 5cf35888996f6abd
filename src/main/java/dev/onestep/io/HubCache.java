package dev.onestep.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;

/**
 * Finds a Hugging Face model id (ORG/NAME) in the standard hub cache, shared with Python tools:
 * $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub; layout
 * models--ORG--NAME/refs/main (a commit hash) → models--ORG--NAME/snapshots/HASH/.
 */
public final class HubCache {
    private HubCache() {}

    private static final Pattern ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*");

    /** Whether {@code s} looks like a hub id rather than a path. */
    public static boolean looksLikeId(String s) {
        return ID.matcher(s).matches() && !Files.exists(Path.of(s));
    }

    /** The hub cache folder in use. */
    public static Path cacheDir() {
        String hubCache = System.getenv("HF_HUB_CACHE");
        if (hubCache != null && !hubCache.isBlank()) return Path.of(hubCache);
        String home = System.getenv("HF_HOME");
        if (home != null && !home.isBlank()) return Path.of(home, "hub");
        return Path.of(System.getProperty("user.home"), ".cache", "huggingface", "hub");
    }

    /**
     * The snapshot folder of a cached model, or a {@link WeightsException} that says what to download and where.
     */
    public static Path resolve(String id) {
        Path repo = cacheDir().resolve("models--" + id.replace("/", "--"));
        try {
            Path ref = repo.resolve("refs").resolve("main");
            if (Files.isRegularFile(ref)) {
                Path snap = repo.resolve("snapshots").resolve(Files.readString(ref).trim());
                if (Files.isDirectory(snap)) return snap;
            }
            Path snaps = repo.resolve("snapshots");
            if (Files.isDirectory(snaps)) {
                try (var s = Files.list(snaps)) {
                    var only = s.filter(Files::isDirectory).toList();
                    if (only.size() == 1) return only.get(0);
                }
            }
        } catch (IOException e) {
            throw new WeightsException(repo + ": unreadable Hugging Face cache entry: " + e.getMessage(), e);
        }
        throw new WeightsException("model " + id + " is not in the Hugging Face cache (" + cacheDir() + ") and OneStep does not "
                + "download yet. Download it on a machine with network access, e.g. `huggingface-cli download " + id
                + "` (it lands in the same cache), or pass --model with a local diffusers folder.");
    }
}
