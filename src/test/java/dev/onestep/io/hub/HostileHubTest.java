package dev.onestep.io.hub;

import dev.onestep.testutil.FakeHub;
import dev.onestep.testutil.Fixtures;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A misbehaving hub, one misdeed per test: names that are paths, bodies longer than announced or endless, files that
 * cannot be verified, transient errors, bad URLs, redirect loops, a token that must not travel, a killed download.
 * Each ends in a one-line {@link HubException} (or a correct download), with nothing written outside the cache and
 * nothing linked that was not verified.
 */
class HostileHubTest {
    static final String ID = HubDownloadTest.ID;
    static final String UNET = HubDownloadTest.UNET;
    static final String VAE = HubDownloadTest.VAE;
    static final String INDEX = "model_index.json";
    /** Fast retries for tests: 3 retries from 10 ms, Retry-After capped at 50 ms. */
    static final HubConfig.Limits FAST = new HubConfig.Limits(3, Duration.ofMillis(10), Duration.ofMillis(50), 1L << 30, 1 << 20);

    @TempDir
    Path root;
    Path cache, victim;
    FakeHub hub;
    final List<String> notes = new ArrayList<>();
    final DownloadListener listener = new DownloadListener() {
        @Override
        public void downloadNote(String message) { notes.add(message); }
    };

    @BeforeEach
    void start() throws IOException {
        hub = new FakeHub(ID, Fixtures.model());
        cache = root.resolve("cache");
        victim = Files.writeString(root.resolve("victim.safetensors"), "keep");
    }

    @AfterEach
    void stop() throws IOException {
        hub.close();
        assertEquals("keep", Files.readString(victim), "a file outside the cache was overwritten");
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.filter(p -> !Files.isDirectory(p)).toList())
                assertTrue(p.startsWith(cache) || p.equals(victim), "written outside the cache: " + p);
        }
    }

    HubConfig config() { return new HubConfig(cache, hub.endpoint(), null, false).withLimits(FAST); }

    Path resolve(HubConfig c) {
        return assertTimeoutPreemptively(Duration.ofSeconds(60), () -> new HubResolver(c, listener).resolve(ID, null));
    }

    HubException fails(HubConfig c) {
        HubException e = assertTimeoutPreemptively(Duration.ofSeconds(60), () -> assertThrows(HubException.class, () -> resolve(c)));
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        return e;
    }

    Path repo() { return cache.resolve("models--test-org--tiny-sd2"); }

    void assertNoRef() { assertFalse(Files.exists(repo().resolve("refs/main")), "an incomplete snapshot must not become refs/main"); }

    /** Every file in blobs/ (partial files included) of the cache. */
    List<Path> blobs() throws IOException {
        if (!Files.isDirectory(repo().resolve("blobs"))) return List.of();
        try (Stream<Path> s = Files.list(repo().resolve("blobs"))) {
            return s.toList();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"../../../victim.safetensors", "/tmp/onestep-hostile", "a/b", "..", ".hidden", "x.incomplete", "x y"})
    void anEtagThatIsNoHashOrTokenIsRefused(String etag) {
        hub.headers.put(UNET, Map.of("X-Linked-Etag", "\"" + etag + "\""));
        HubException e = fails(config());
        assertTrue(e.getMessage().contains(UNET) && e.getMessage().contains("ETag"), e.getMessage());
        assertNoRef();
    }

    @Test
    void aCommitThatIsAPathIsRefused() {
        hub.listing = j -> j.replace("\"sha\":\"" + FakeHub.COMMIT + "\"", "\"sha\":\"../../../victim\"");
        HubException e = fails(config());
        assertTrue(e.getMessage().contains("not a 40-character commit hash") && e.getMessage().contains("../../../victim"), e.getMessage());
        assertFalse(Files.exists(repo().resolve("snapshots")));
    }

    @Test
    void anXRepoCommitThatIsAPathIsRefused() {
        hub.listing = j -> j.replace("\"sha\":\"" + FakeHub.COMMIT + "\",", "");
        hub.headers.put(INDEX, Map.of("X-Repo-Commit", "../../x"));
        HubException e = fails(config());
        assertTrue(e.getMessage().contains("X-Repo-Commit") && e.getMessage().contains("../../x"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"../../victim.safetensors", "/etc/passwd", "unet/../../x", "a\\\\b", "unet//x"})
    void aListedFileNameThatIsNoRelativePathIsRefused(String name) {
        hub.listing = j -> j.replace("{\"rfilename\":\"README.md\"}", "{\"rfilename\":\"" + name + "\"}");
        HubException e = fails(config());
        assertTrue(e.getMessage().contains("file listing") && e.getMessage().contains("refusing"), e.getMessage());
    }

    @Test
    void aShardIndexNamingAPathOutsideIsRefused() {
        byte[] unet = hub.files().remove(UNET);
        hub.files().put("unet/diffusion_pytorch_model-00001-of-00001.safetensors", unet);
        hub.files().put("unet/diffusion_pytorch_model.safetensors.index.json",
                "{\"weight_map\":{\"conv_in.weight\":\"../../../../victim.safetensors\"}}".getBytes(StandardCharsets.UTF_8));
        HubException e = fails(config());
        assertTrue(e.getMessage().contains("sharded index") && e.getMessage().contains("victim"), e.getMessage());
        assertNoRef();
    }

    @Test
    void aShardTheListingDoesNotHaveIsRefused() {
        byte[] unet = hub.files().remove(UNET);
        hub.files().put("unet/diffusion_pytorch_model-00001-of-00001.safetensors", unet);
        hub.files().put("unet/diffusion_pytorch_model.safetensors.index.json",
                "{\"weight_map\":{\"conv_in.weight\":\"other.safetensors\"}}".getBytes(StandardCharsets.UTF_8));
        HubException e = fails(config());
        assertTrue(e.getMessage().contains("unet/other.safetensors") && e.getMessage().contains("listing does not have"), e.getMessage());
    }

    @Test
    void aBodyThatNeverEndsIsCutAtTheAnnouncedSize() throws IOException {
        hub.endless.add(VAE);
        HubException e = fails(config());
        long size = hub.files().get(VAE).length;
        assertTrue(e.getMessage().contains(VAE) && e.getMessage().contains("more than the announced " + size), e.getMessage());
        long largest = hub.files().values().stream().mapToLong(b -> b.length).max().orElseThrow();
        for (Path b : blobs()) assertTrue(Files.size(b) <= largest, b + " grew past the announced size");
        assertFalse(Files.exists(repo().resolve("blobs/" + FakeHub.sha256(hub.files().get(VAE)) + ".incomplete")), "the bad part is deleted");
        assertNoRef();
    }

    @Test
    void aBodyWithoutAnnouncedSizeIsCutAtTheLimit() throws IOException {
        hub.endless.add(VAE);
        hub.headers.put(VAE, Map.of("X-Linked-Size", ""));
        HubConfig c = config().withLimits(new HubConfig.Limits(3, Duration.ofMillis(10), Duration.ofMillis(50), 16 << 20, 1 << 20));
        HubException e = fails(c);
        assertTrue(e.getMessage().contains(VAE) && e.getMessage().contains("more than the " + (16 << 20) + " bytes"), e.getMessage());
        for (Path b : blobs()) assertTrue(Files.size(b) <= 16 << 20, b + " grew past the limit");
        assertNoRef();
    }

    @Test
    void anAnnouncedSizeAboveTheLimitIsRefusedBeforeAnyTransfer() {
        hub.headers.put(UNET, Map.of("X-Linked-Size", String.valueOf(1L << 40)));
        HubException e = fails(config());
        assertTrue(e.getMessage().contains(UNET) && e.getMessage().contains("announces " + (1L << 40)), e.getMessage());
        assertEquals(0, hub.bodyGets(UNET));
    }

    @Test
    void moreThanTheDiskHoldsIsRefusedBeforeAnyTransfer() {
        hub.headers.put(UNET, Map.of("X-Linked-Size", String.valueOf(1L << 60)));
        HubConfig c = config().withLimits(new HubConfig.Limits(3, Duration.ofMillis(10), Duration.ofMillis(50), Long.MAX_VALUE, 1 << 20));
        HubException e = fails(c);
        assertTrue(e.getMessage().contains("bytes free") && e.getMessage().contains("still to download need"), e.getMessage());
        assertEquals(0, hub.bodyGets(UNET));
    }

    @Test
    void aFileWithNeitherHashNorSizeIsNeverCached() throws IOException {
        hub.headers.put("unet/config.json", Map.of("ETag", "\"mirror-etag-1\"", "Content-Length", ""));
        hub.cutFirstGet.put("unet/config.json", 100); // would be a truncated file if it were accepted
        HubException e = fails(config());
        assertTrue(e.getMessage().contains("unet/config.json") && e.getMessage().contains("neither a content hash")
                && e.getMessage().contains("mirror-etag-1"), e.getMessage());
        assertFalse(Files.exists(repo().resolve("blobs/mirror-etag-1")));
        assertNoRef();
    }

    @Test
    void aFileWithAnOpaqueEtagIsCheckedBySizeAndSaysSo() throws IOException {
        hub.headers.put("unet/config.json", Map.of("ETag", "\"mirror-etag-1\""));
        hub.cutFirstGet.put("unet/config.json", 100);
        Path snap = resolve(config());
        assertArrayEquals(hub.files().get("unet/config.json"), Files.readAllBytes(snap.resolve("unet/config.json")));
        assertTrue(notes.stream().anyMatch(n -> n.contains("unet/config.json") && n.contains("only the file's size")), notes.toString());
    }

    @Test
    void aTruncatedFileWithAnOpaqueEtagIsNotLinked() throws IOException {
        hub.headers.put("unet/config.json", Map.of("ETag", "\"mirror-etag-1\""));
        hub.intercept = (ex, method, path) -> {
            if (!method.equals("GET") || !path.contains("/resolve/") || !path.endsWith("/unet/config.json")) return false;
            ex.getResponseHeaders().set("ETag", "\"mirror-etag-1\"");
            ex.sendResponseHeaders(200, 0);
            try (OutputStream os = ex.getResponseBody()) {
                os.write(new byte[10]); // always ten bytes of the announced 1799
            }
            return true;
        };
        HubException e = fails(config());
        assertTrue(e.getMessage().contains("unet/config.json") && e.getMessage().contains("ended at 10 of"), e.getMessage());
        assertFalse(Files.exists(repo().resolve("blobs/mirror-etag-1")));
        assertNoRef();
    }

    @Test
    void anEndlessListingIsCutAtItsLimit() {
        hub.intercept = (ex, method, path) -> {
            if (!path.startsWith("/api/")) return false;
            ex.sendResponseHeaders(200, 0);
            try (OutputStream os = ex.getResponseBody()) {
                byte[] chunk = "{\"rfilename\":\"x\"},".repeat(1000).getBytes(StandardCharsets.UTF_8);
                os.write("{\"siblings\":[".getBytes(StandardCharsets.UTF_8));
                for (int i = 0; i < 100_000; i++) os.write(chunk);
            } catch (IOException hungUp) {
                // the client stopped reading: expected
            }
            return true;
        };
        HubException e = fails(config());
        assertTrue(e.getMessage().contains("listing is larger than " + (1 << 20)), e.getMessage());
    }

    @Test
    void transientErrorsAreRetriedHonouringACappedRetryAfter() throws IOException {
        AtomicInteger listing = new AtomicInteger(), head = new AtomicInteger(), get = new AtomicInteger();
        hub.intercept = (ex, method, path) -> {
            if (path.startsWith("/api/") && listing.getAndIncrement() < 2) {
                ex.getResponseHeaders().set("Retry-After", "100000"); // capped by Limits.maxRetryAfter (50 ms)
                FakeHub.respond(ex, 503, "busy".getBytes(StandardCharsets.UTF_8));
                return true;
            }
            if (method.equals("HEAD") && path.endsWith("/" + VAE) && head.getAndIncrement() < 1) {
                FakeHub.respond(ex, 429, new byte[0]);
                return true;
            }
            if (method.equals("GET") && path.startsWith("/cdn/" + VAE) && get.getAndIncrement() < 1) {
                FakeHub.respond(ex, 500, new byte[0]);
                return true;
            }
            return false;
        };
        Path snap = resolve(config());
        assertArrayEquals(hub.files().get(VAE), Files.readAllBytes(snap.resolve(VAE)));
        assertEquals(3, listing.get(), "two 503s, then the listing");
        assertEquals(2, head.get(), "a 429 on HEAD, then the metadata");
        assertEquals(2, get.get(), "a 500 on GET, then the file");
    }

    @Test
    void aServerErrorThatPersistsFailsAfterTheRetries() {
        AtomicInteger n = new AtomicInteger();
        hub.intercept = (ex, method, path) -> {
            if (!path.startsWith("/api/")) return false;
            n.incrementAndGet();
            FakeHub.respond(ex, 500, new byte[0]);
            return true;
        };
        HubException e = fails(config());
        assertTrue(e.getMessage().contains("HTTP 500") && e.getMessage().contains("after 3 retries"), e.getMessage());
        assertEquals(1 + FAST.retries(), n.get());
    }

    @Test
    void retryWaitsFollowRetryAfterAndTheBackoffWithinTheCap() {
        HubClient c = new HubClient(new HubConfig(cache, "http://127.0.0.1:1", null, false)
                .withLimits(new HubConfig.Limits(5, Duration.ofMillis(100), Duration.ofSeconds(30), 1 << 20, 1 << 20)));
        assertEquals(Duration.ofMillis(100), c.retryWait(null, 0));
        assertEquals(Duration.ofMillis(400), c.retryWait(null, 2));
        assertEquals(Duration.ofMillis(800), c.retryWait(null, 9), "the backoff stops doubling at 8×");
        assertEquals(Duration.ofSeconds(7), c.retryWait("7", 0));
        assertEquals(Duration.ofSeconds(30), c.retryWait("999999999", 0), "capped");
        assertEquals(Duration.ofMillis(100), c.retryWait("soon", 0), "unreadable: the backoff");
        assertEquals(Duration.ZERO, c.retryWait("Wed, 21 Oct 2015 07:28:00 GMT", 0), "a date in the past: no wait");
    }

    @ParameterizedTest
    @ValueSource(strings = {"file:///etc", "http://exa mple.com", "http://127.0.0.1:99999", "http://host:abc", "ftp://mirror", "mirror.example"})
    void aBadEndpointIsOneClearError(String endpoint) {
        HubException e = fails(new HubConfig(cache, endpoint, null, false).withLimits(FAST));
        assertTrue(e.getMessage().contains("HF_ENDPOINT"), e.getMessage());
        assertTrue(hub.requests.isEmpty());
    }

    @ParameterizedTest
    @ValueSource(strings = {"file:///etc/passwd", "http://a b/c", "ftp://x/y", "http://127.0.0.1:99999/x", "http:///nohost"})
    void aBadRedirectIsOneClearError(String location) {
        hub.headers.put(UNET, Map.of("Location", location));
        HubException e = fails(config());
        assertTrue(e.getMessage().contains("redirect"), e.getMessage());
        assertNoRef();
    }

    @Test
    void aRedirectLoopEnds() {
        hub.intercept = (ex, method, path) -> {
            if (!path.startsWith("/cdn/")) return false;
            ex.getResponseHeaders().set("Location", hub.endpoint() + path);
            ex.sendResponseHeaders(302, -1);
            ex.close();
            return true;
        };
        HubException e = fails(config());
        assertTrue(e.getMessage().contains("more than 5 redirects"), e.getMessage());
    }

    @Test
    void theTokenGoesToTheEndpointOnlyNotToAnotherHostOnRedirect() throws IOException {
        hub.cdnHost = "localhost"; // the same server under another name: another host to the client
        HubConfig c = new HubConfig(cache, hub.endpoint(), "secret-token", false).withLimits(FAST);
        Path snap = resolve(c);
        assertArrayEquals(hub.files().get(UNET), Files.readAllBytes(snap.resolve(UNET)));
        assertTrue(hub.authorized.stream().anyMatch(r -> r.contains("/resolve/")), hub.authorized.toString());
        assertTrue(hub.authorized.stream().noneMatch(r -> r.contains("/cdn/")), "the token went to the CDN host: " + hub.authorized);
        assertTrue(hub.requests.stream().anyMatch(r -> r.startsWith("GET /cdn/")), hub.requests.toString());
    }

    @Test
    void aRangeAnswerForOtherBytesStartsTheFileAfresh() throws IOException {
        byte[] bytes = hub.files().get(VAE);
        Path blobs = Files.createDirectories(repo().resolve("blobs"));
        Files.write(blobs.resolve(FakeHub.sha256(bytes) + ".incomplete"), java.util.Arrays.copyOf(bytes, 1000));
        AtomicInteger wrong = new AtomicInteger();
        hub.intercept = (ex, method, path) -> {
            if (!path.startsWith("/cdn/" + VAE) || ex.getRequestHeaders().getFirst("Range") == null || wrong.getAndIncrement() > 0)
                return false;
            ex.getResponseHeaders().set("Content-Range", "bytes 0-" + (bytes.length - 1) + "/" + bytes.length); // not from 1000
            ex.sendResponseHeaders(206, bytes.length);
            try (OutputStream os = ex.getResponseBody()) {
                os.write(bytes);
            }
            return true;
        };
        Path snap = resolve(config());
        assertArrayEquals(bytes, Files.readAllBytes(snap.resolve(VAE)));
        assertTrue(notes.stream().anyMatch(n -> n.contains("Content-Range")), notes.toString());
    }

    @Test
    void aDownloadKilledMidwayIsResumedByTheNextRun() throws Exception {
        hub.slowBodyMillis = 20; // the UNET's 13 MB take ~16 s: time to kill the child mid-transfer
        Files.createDirectories(cache);
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp", cp,
                DownloadChild.class.getName(), cache.toString(), hub.endpoint(), ID)
                .redirectErrorStream(true).redirectOutput(root.resolve("cache/child.log").toFile()).start();
        Path part = repo().resolve("blobs/" + FakeHub.sha256(hub.files().get(UNET)) + ".incomplete");
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while ((!Files.exists(part) || Files.size(part) < 100_000) && System.nanoTime() < deadline && child.isAlive()) Thread.sleep(20);
            assertTrue(child.isAlive(), "the child ended early: " + Files.readString(root.resolve("cache/child.log")));
            assertTrue(Files.size(part) >= 100_000, "the child's download never started");
        } finally {
            child.destroyForcibly(); // SIGKILL: no cleanup, the OS drops its lock
            child.waitFor(30, TimeUnit.SECONDS);
        }
        long had = Files.size(part);
        assertTrue(had > 0 && had < hub.files().get(UNET).length, "killed mid-transfer: " + had);
        hub.slowBodyMillis = 0;
        int before = hub.requests.size();
        Path snap = resolve(config());
        assertArrayEquals(hub.files().get(UNET), Files.readAllBytes(snap.resolve(UNET)));
        List<String> after = hub.requests.subList(before, hub.requests.size());
        assertTrue(after.stream().anyMatch(r -> r.startsWith("GET /cdn/" + UNET + " bytes=") && !r.endsWith("bytes=0-")),
                "resumed with a Range request: " + after);
        assertTrue(notes.stream().anyMatch(n -> n.contains("resuming at")), notes.toString());
    }
}
