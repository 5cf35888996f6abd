package dev.onestep.io.hub;

import java.nio.file.Path;
import java.util.Locale;
import java.util.function.UnaryOperator;

/**
 * Where the Hugging Face cache lives and how to reach the hub, read like huggingface_hub does:
 * HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub; HF_ENDPOINT (default https://huggingface.co);
 * HF_TOKEN (sent as {@code Authorization: Bearer}); HF_HUB_OFFLINE=1 (never touch the network).
 *
 * <p>{@link #fromEnvironment()} looks each name up as a Java system property first, then as an environment
 * variable, so an embedding application (or a test) can set them with {@code -DHF_HUB_OFFLINE=1}.
 */
public record HubConfig(Path cacheDir, String endpoint, String token, boolean offline) {
    public static final String DEFAULT_ENDPOINT = "https://huggingface.co";

    public HubConfig {
        endpoint = endpoint == null || endpoint.isBlank() ? DEFAULT_ENDPOINT : endpoint.strip();
        while (endpoint.endsWith("/")) endpoint = endpoint.substring(0, endpoint.length() - 1);
        token = token == null || token.isBlank() ? null : token.strip();
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
        return new HubConfig(cache, env.apply("HF_ENDPOINT"), token, truthy(env.apply("HF_HUB_OFFLINE")));
    }

    public HubConfig withOffline(boolean off) { return new HubConfig(cacheDir, endpoint, token, off); }

    public HubConfig withCacheDir(Path dir) { return new HubConfig(dir, endpoint, token, offline); }

    private static boolean truthy(String v) {
        if (v == null) return false;
        return switch (v.strip().toLowerCase(Locale.ROOT)) {
            case "1", "true", "yes", "on" -> true;
            default -> false;
        };
    }

    @Override
    public String toString() {
        return "HubConfig[cache=" + cacheDir + ", endpoint=" + endpoint + ", token=" + (token == null ? "none" : "set") + ", offline=" + offline + "]";
    }
}
