package dev.onestep.fuzz;

import com.code_intelligence.jazzer.api.BugDetectors;
import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.onestep.io.WeightsException;
import dev.onestep.io.hub.HubConfig;
import dev.onestep.io.hub.HubResolver;
import dev.onestep.testutil.FakeHub;
import dev.onestep.testutil.Fixtures;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The hub client against a server whose answers the fuzzer writes: each request either gets the fake hub's true
 * answer or a fuzzed one (any status, the headers the client reads with fuzzed values — ETag, X-Linked-Etag,
 * X-Linked-Size, X-Repo-Commit, Location, Content-Range, Retry-After — and a fuzzed body, listings included).
 * Whatever the answers, resolving the model gives a snapshot inside the cache or one HubException/WeightsException,
 * nothing outside the cache is written, and a file beside the cache keeps its bytes.
 */
class HubFuzzTest {
    private static final String ID = "test-org/tiny-sd2";
    private static final int[] STATUSES = {200, 200, 200, 206, 301, 302, 307, 308, 401, 403, 404, 416, 429, 500, 502, 503};
    private static final String[] HEADERS = {"ETag", "X-Linked-Etag", "X-Linked-Size", "X-Repo-Commit", "Location", "Content-Range",
            "Retry-After", "Content-Type", "X-Error-Code"};
    private static final HubConfig.Limits FAST = new HubConfig.Limits(2, Duration.ofMillis(1), Duration.ofMillis(5), 64L << 20, 1 << 20);
    private static FakeHub hub;

    @FuzzTest
    void anyServerAnswersGiveASnapshotInsideTheCacheOrOneHubError(FuzzedDataProvider data) throws Exception {
        // Connections go where the (fuzzed) server redirects them, as the hub's design has it (LFS files live on a CDN
        // host): that is not a finding here. What is checked is what the client does with the answers.
        BugDetectors.allowNetworkConnections();
        if (hub == null) hub = new FakeHub(ID, Fixtures.model()); // one server for every input; closed with the JVM
        Path root = Files.createTempDirectory("fuzz");
        Path cache = root.resolve("cache"), victim = Files.writeString(root.resolve("victim.safetensors"), "keep");
        hub.intercept = (ex, method, path) -> {
            synchronized (data) {
                if (data.remainingBytes() == 0 || data.consumeBoolean()) return false; // the true answer
                int status = data.pickValue(STATUSES);
                try {
                    for (int i = data.consumeInt(0, 4); i > 0; i--) {
                        String name = data.pickValue(HEADERS);
                        String value = name.equals("Location") ? location(data) : data.consumeString(64);
                        ex.getResponseHeaders().add(name, value);
                    }
                } catch (IllegalArgumentException unsendable) { // a header value the server itself refuses to send
                    ex.getResponseHeaders().clear();
                }
                FakeHub.respond(ex, status, data.consumeBytes(data.consumeInt(0, 2048)));
                return true;
            }
        };
        try {
            HubConfig config = new HubConfig(cache, hub.endpoint(), null, false, Duration.ofSeconds(5), Duration.ofSeconds(5)).withLimits(FAST);
            try {
                Path snapshot = new HubResolver(config, null).resolve(ID, null);
                assertTrue(snapshot.toAbsolutePath().normalize().startsWith(cache.toAbsolutePath()), "snapshot outside the cache: " + snapshot);
            } catch (WeightsException expected) { // HubException is one
                assertFalse(expected.getMessage().isBlank());
                assertFalse(expected.getMessage().contains("\n"), "one line: " + expected.getMessage());
            }
            assertEquals("keep", Files.readString(victim), "a file beside the cache was overwritten");
            try (Stream<Path> s = Files.walk(root)) {
                for (Path p : s.filter(p -> !Files.isDirectory(p)).toList())
                    assertTrue(p.startsWith(cache) || p.equals(victim), "written outside the cache: " + p);
            }
        } finally {
            hub.intercept = null;
            Fuzzing.deleteTree(root);
        }
    }

    /** Redirect targets: this server (a path the fuzzer picks), a closed port, or any text. */
    private static String location(FuzzedDataProvider data) throws IOException {
        return switch (data.consumeInt(0, 2)) {
            case 0 -> hub.endpoint() + "/" + ID + "/resolve/main/" + data.consumeString(40);
            case 1 -> "http://127.0.0.1:1/" + data.consumeString(20);
            default -> data.consumeString(64);
        };
    }
}
