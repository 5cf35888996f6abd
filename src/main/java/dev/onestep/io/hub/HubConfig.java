package dev.onestep.io.hub;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.function.UnaryOperator;

/**
 * Where the Hugging Face cache lives and how to reach the hub, read like huggingface_hub does:
 * HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub; HF_ENDPOINT (default https://huggingface.co);
 * HF_TOKEN (sent as {@code Authorization: Bearer}); HF_HUB_OFFLINE=1 (never touch the network);
 * HF_HUB_DOWNLOAD_TIMEOUT (seconds, default 10: to connect, to get a file's response, and the longest a transfer
 * may go without receiving a byte before it is abandoned and resumed) and HF_HUB_ETAG_TIMEOUT (seconds, default
 * 10: the metadata requests, file list and HEAD).
 *
 * <p>{@link #fromEnvironment()} looks each name up as a Java system property first, then as an environment
 * variable, so an embedding application (or a test) can set them with {@code -DHF_HUB_OFFLINE=1}.
 */
public record HubConfig(Path cacheDir, String endpoint, String token, boolean offline, Duration downloadTimeout,
                        Duration etagTimeout, Limits limits) {
    /**
     * What a misbehaving server is allowed before a download gives up: {@code retries} more tries of a request
     * answered 429 or 5xx, waiting {@code backoff} × 2^n (at most 8 × backoff) or the server's Retry-After, but never
     * longer than {@code maxRetryAfter}; {@code maxFileBytes}, the most one file may have, whatever size the server
     * announces (or when it announces none); {@code maxListingBytes}, the most a revision's file listing may have.
     */
    public record Limits(int retries, Duration backoff, Duration maxRetryAfter, long maxFileBytes, long maxListingBytes) {
        /** huggingface_hub's http_backoff: 5 retries from 1 s; Retry-After capped at a minute; 32 GiB; 16 MiB. */
        public static final Limits DEFAULT = new Limits(5, Duration.ofSeconds(1), Duration.ofSeconds(60), 32L << 30, 16L << 20);

        public Limits {
            if (retries < 0 || retries > 100) throw new IllegalArgumentException("retries must be 0..100, got " + retries);
            if (backoff == null || backoff.isNegative()) throw new IllegalArgumentException("backoff must be >= 0, got " + backoff);
            if (maxRetryAfter == null || maxRetryAfter.isNegative())
                throw new IllegalArgumentException("maxRetryAfter must be >= 0, got " + maxRetryAfter);
            if (maxFileBytes <= 0 || maxListingBytes <= 0)
                throw new IllegalArgumentException("byte limits must be positive, got " + maxFileBytes + ", " + maxListingBytes);
        }
    }

    public static final String DEFAULT_ENDPOINT = "https://huggingface.co";
    /** huggingface_hub's defaults for HF_HUB_DOWNLOAD_TIMEOUT and HF_HUB_ETAG_TIMEOUT. */
    public static final Duration DEFAULT_DOWNLOAD_TIMEOUT = Duration.ofSeconds(10), DEFAULT_ETAG_TIMEOUT = Duration.ofSeconds(10);

    public HubConfig {
        endpoint = endpoint == null || endpoint.isBlank() ? DEFAULT_ENDPOINT : endpoint.strip();
        while (endpoint.endsWith("/")) endpoint = endpoint.substring(0, endpoint.length() - 1);
        token = token == null || token.isBlank() ? null : token.strip();
        downloadTimeout = positive(downloadTimeout, DEFAULT_DOWNLOAD_TIMEOUT);
        etagTimeout = positive(etagTimeout, DEFAULT_ETAG_TIMEOUT);
        if (limits == null) limits = Limits.DEFAULT;
    }

    /** The default limits. */
    public HubConfig(Path cacheDir, String endpoint, String token, boolean offline, Duration downloadTimeout, Duration etagTimeout) {
        this(cacheDir, endpoint, token, offline, downloadTimeout, etagTimeout, null);
    }

    /** The default timeouts. */
    public HubConfig(Path cacheDir, String endpoint, String token, boolean offline) {
        this(cacheDir, endpoint, token, offline, null, null);
    }

    /** The settings of this process (system properties, then environment variables). */
    public static HubConfig fromEnvironment() {
        return from(name -> {
            String v = System.getProperty(name);
            return v != null ? v : System.getenv(name);
        });
    }

    /** The settings from a name → value lookup (null = unset). */
    public static HubConfig from(UnaryOperator<String> env) {
        Path cache;
        String hubCache = env.apply("HF_HUB_CACHE"), home = env.apply("HF_HOME");
        if (hubCache != null && !hubCache.isBlank()) cache = Path.of(hubCache);
        else if (home != null && !home.isBlank()) cache = Path.of(home, "hub");
        else cache = Path.of(System.getProperty("user.home"), ".cache", "huggingface", "hub");
        String token = env.apply("HF_TOKEN");
        if (token == null) token = env.apply("HUGGING_FACE_HUB_TOKEN");
        return new HubConfig(cache, env.apply("HF_ENDPOINT"), token, truthy(env.apply("HF_HUB_OFFLINE")),
                seconds("HF_HUB_DOWNLOAD_TIMEOUT", env.apply("HF_HUB_DOWNLOAD_TIMEOUT")),
                seconds("HF_HUB_ETAG_TIMEOUT", env.apply("HF_HUB_ETAG_TIMEOUT")));
    }

    public HubConfig withOffline(boolean off) { return new HubConfig(cacheDir, endpoint, token, off, downloadTimeout, etagTimeout, limits); }

    public HubConfig withCacheDir(Path dir) { return new HubConfig(dir, endpoint, token, offline, downloadTimeout, etagTimeout, limits); }

    public HubConfig withDownloadTimeout(Duration d) { return new HubConfig(cacheDir, endpoint, token, offline, d, etagTimeout, limits); }

    public HubConfig withLimits(Limits l) { return new HubConfig(cacheDir, endpoint, token, offline, downloadTimeout, etagTimeout, l); }

    /** A number of seconds (fractions allowed, as huggingface_hub's float) from a variable; null when unset. */
    static Duration seconds(String name, String v) {
        if (v == null || v.isBlank()) return null;
        double s;
        try {
            s = Double.parseDouble(v.strip());
        } catch (NumberFormatException e) {
            s = Double.NaN;
        }
        if (!(s > 0) || s > 1e7)
            throw new IllegalArgumentException(name + " must be a positive number of seconds, got '" + v + "'");
        return Duration.ofNanos(Math.round(s * 1e9));
    }

    private static Duration positive(Duration d, Duration fallback) {
        return d == null || d.isZero() || d.isNegative() ? fallback : d;
    }

    private static boolean truthy(String v) {
        if (v == null) return false;
        return switch (v.strip().toLowerCase(Locale.ROOT)) {
            case "1", "true", "yes", "on" -> true;
            default -> false;
        };
    }

    @Override
    public String toString() {
        return "HubConfig[cache=" + cacheDir + ", endpoint=" + endpoint + ", token=" + (token == null ? "none" : "set") + ", offline=" + offline
                + ", downloadTimeout=" + downloadTimeout + ", etagTimeout=" + etagTimeout + ", limits=" + limits + "]";
    }
}
