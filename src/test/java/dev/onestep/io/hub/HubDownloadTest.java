package dev.onestep.io.hub;

import dev.onestep.io.ModelFolder;
import dev.onestep.testutil.FakeHub;
import dev.onestep.testutil.Fixtures;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.Collections;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Downloads from a loopback hub into a huggingface_hub-compatible cache: layout, resume, stalls, concurrent runs,
 * checksums, offline.
 */
class HubDownloadTest {
    static final String ID = "test-org/tiny-sd2";
    static final String UNET = "unet/diffusion_pytorch_model.safetensors";
    static final String VAE = "vae/diffusion_pytorch_model.safetensors";

    @TempDir
    Path cache;
    FakeHub hub;
    final List<String> notes = new ArrayList<>();
    final List<String> started = new ArrayList<>();
    final DownloadListener listener = new DownloadListener() {
        @Override
        public void downloadStarted(String repo, int files, long bytes) { started.add(repo + " " + files + " " + bytes); }

        @Override
        public void downloadNote(String message) { notes.add(message); }
    };

    @BeforeEach
    void start() throws IOException { hub = new FakeHub(ID, Fixtures.model()); }

    @AfterEach
    void stop() { hub.close(); }

    HubConfig config() { return new HubConfig(cache, hub.endpoint(), null, false); }

    Path resolve(HubConfig c, String variant) { return new HubResolver(c, listener).resolve(ID, variant); }

    @Test
    void fullDownloadLaysOutTheCacheLikeHuggingFaceHub() throws IOException {
        Path snap = resolve(config(), null);
        Path repo = cache.resolve("models--test-org--tiny-sd2");
        assertEquals(repo.resolve("snapshots").resolve(FakeHub.COMMIT), snap);
        assertEquals(FakeHub.COMMIT, Files.readString(repo.resolve("refs/main")));
        Path unet = snap.resolve(UNET);
        assertTrue(Files.isSymbolicLink(unet));
        byte[] bytes = hub.files().get(UNET);
        assertEquals(Path.of("../../../blobs/" + FakeHub.sha256(bytes)), Files.readSymbolicLink(unet));
        assertArrayEquals(bytes, Files.readAllBytes(unet));
        Path index = snap.resolve("model_index.json");
        assertEquals(Path.of("../../blobs/" + FakeHub.gitSha1(hub.files().get("model_index.json"))), Files.readSymbolicLink(index));
        // only what inference needs: no fp16/bf16 copies, no README
        assertFalse(Files.exists(snap.resolve("unet/diffusion_pytorch_model.fp16.safetensors")));
        assertFalse(Files.exists(snap.resolve("README.md")));
        try (Stream<Path> s = Files.list(repo.resolve("blobs"))) {
            assertTrue(s.noneMatch(p -> p.toString().endsWith(".incomplete")));
        }
        assertEquals(List.of(ID + " 3 " + (hub.files().get(UNET).length + hub.files().get(VAE).length
                + hub.files().get("text_encoder/model.safetensors").length)), started);
        ModelFolder f = ModelFolder.open(snap, null);
        assertEquals(snap.resolve(UNET), f.weightsPath("unet"));
    }

    @Test
    void variantDownloadsOnlyThatVariant() {
        Path snap = resolve(config(), "fp16");
        assertTrue(Files.exists(snap.resolve("unet/diffusion_pytorch_model.fp16.safetensors")));
        assertTrue(Files.exists(snap.resolve("text_encoder/model.fp16.safetensors")));
        assertFalse(Files.exists(snap.resolve(UNET)));
        assertFalse(Files.exists(snap.resolve("unet/diffusion_pytorch_model.bf16.safetensors")));
    }

    @Test
    void aCutTransferIsResumedWithARangeRequest() throws IOException {
        byte[] bytes = hub.files().get(UNET);
        int cut = bytes.length / 3;
        hub.cutFirstGet.put(UNET, cut);
        Path snap = resolve(config(), null);
        assertArrayEquals(bytes, Files.readAllBytes(snap.resolve(UNET)));
        assertTrue(hub.requests.contains("GET /cdn/" + UNET + " bytes=" + cut + "-"), hub.requests.toString());
        assertTrue(notes.stream().anyMatch(n -> n.contains("resuming at " + cut)), notes.toString());
    }

    @Test
    void aStalledTransferTimesOutAndIsResumedWithARangeRequest() throws IOException {
        byte[] bytes = hub.files().get(UNET);
        int stallAt = bytes.length / 4;
        hub.stallGets.put(UNET, new int[]{stallAt, 1}); // the first GET sends a quarter and then goes silent
        HubConfig c = config().withDownloadTimeout(Duration.ofMillis(400));
        Path snap = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> resolve(c, null), "a stalled transfer must not hang");
        assertArrayEquals(bytes, Files.readAllBytes(snap.resolve(UNET)));
        assertTrue(hub.requests.contains("GET /cdn/" + UNET + " bytes=" + stallAt + "-"), hub.requests.toString());
        assertEquals(2, hub.bodyGets(UNET), hub.requests.toString());
        assertTrue(notes.stream().anyMatch(n -> n.contains(UNET) && n.contains("no data for 0.4 s") && n.contains("retrying")), notes.toString());
        assertTrue(notes.stream().anyMatch(n -> n.contains("resuming at " + stallAt)), notes.toString());
    }

    @Test
    void aTransferThatKeepsStallingFailsWithAClearMessageAndKeepsThePart() {
        hub.stallGets.put(VAE, new int[]{1000, 100});
        HubConfig c = config().withDownloadTimeout(Duration.ofMillis(200));
        HubException e = assertTimeoutPreemptively(Duration.ofSeconds(30),
                () -> assertThrows(HubException.class, () -> resolve(c, null)));
        String m = e.getMessage();
        assertTrue(m.contains(VAE) && m.contains("after " + Download.ATTEMPTS + " attempts") && m.contains("no data for 0.2 s")
                && m.contains("HF_HUB_DOWNLOAD_TIMEOUT") && m.contains("next run resumes it"), m);
        Path part = cache.resolve("models--test-org--tiny-sd2/blobs/" + FakeHub.sha256(hub.files().get(VAE)) + ".incomplete");
        assertEquals(Download.ATTEMPTS * 1000L, assertDoesNotThrow(() -> Files.size(part)), "each attempt resumed the last");
        assertFalse(Files.exists(cache.resolve("models--test-org--tiny-sd2/refs/main")));
        // the next run, with a healthy server, completes it from where it stopped
        hub.stallGets.clear();
        Path snap = resolve(config(), null);
        assertTrue(hub.requests.contains("GET /cdn/" + VAE + " bytes=" + Download.ATTEMPTS * 1000 + "-"), hub.requests.toString());
        assertArrayEquals(hub.files().get(VAE), assertDoesNotThrow(() -> Files.readAllBytes(snap.resolve(VAE))));
    }

    @Test
    void theDownloadTimeoutIsReadFromTheEnvironment() {
        assertEquals(HubConfig.DEFAULT_DOWNLOAD_TIMEOUT, HubConfig.from(n -> null).downloadTimeout());
        assertEquals(Duration.ofSeconds(10), HubConfig.DEFAULT_DOWNLOAD_TIMEOUT);
        assertEquals(Duration.ofMillis(2500), HubConfig.from(n -> n.equals("HF_HUB_DOWNLOAD_TIMEOUT") ? "2.5" : null).downloadTimeout());
        assertEquals(Duration.ofSeconds(30), HubConfig.from(n -> n.equals("HF_HUB_ETAG_TIMEOUT") ? "30" : null).etagTimeout());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> HubConfig.from(n -> n.equals("HF_HUB_DOWNLOAD_TIMEOUT") ? "soon" : null));
        assertTrue(e.getMessage().contains("HF_HUB_DOWNLOAD_TIMEOUT") && e.getMessage().contains("soon"), e.getMessage());
        assertEquals(Duration.ofSeconds(7), config().withDownloadTimeout(Duration.ofSeconds(7)).withOffline(true).downloadTimeout());
    }

    @Test
    void twoConcurrentDownloadsOfTheSameModelFetchEachFileOnce() throws Exception {
        hub.slowBodyMillis = 1; // ~2 s of transfers, so the two runs overlap
        List<String> shared = Collections.synchronizedList(new ArrayList<>());
        DownloadListener l = new DownloadListener() {
            @Override
            public void downloadNote(String message) { shared.add(message); }
        };
        CyclicBarrier start = new CyclicBarrier(2);
        Callable<Path> run = () -> {
            start.await();
            return new HubResolver(config(), l).resolve(ID, null);
        };
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Future<Path> a = pool.submit(run), b = pool.submit(run);
            Path snapA = a.get(60, TimeUnit.SECONDS), snapB = b.get(60, TimeUnit.SECONDS);
            assertEquals(snapA, snapB);
            Path repo = cache.resolve("models--test-org--tiny-sd2");
            for (String f : List.of("model_index.json", "unet/config.json", UNET, VAE, "text_encoder/model.safetensors")) {
                assertEquals(1, hub.bodyGets(f), f + " fetched once: " + hub.requests);
                assertArrayEquals(hub.files().get(f), Files.readAllBytes(snapA.resolve(f)), f);
            }
            try (Stream<Path> s = Files.list(repo.resolve("blobs"))) {
                assertTrue(s.noneMatch(p -> p.toString().endsWith(".incomplete")));
            }
            assertEquals(FakeHub.COMMIT, Files.readString(repo.resolve("refs/main")));
            assertTrue(shared.stream().anyMatch(n -> n.contains("another download of this file is in progress")),
                    "one run waited for the other: " + shared);
            Path lock = cache.resolve(".locks/models--test-org--tiny-sd2/" + FakeHub.sha256(hub.files().get(UNET)) + ".lock");
            assertTrue(Files.exists(lock), "huggingface_hub's lock file layout");
            assertEquals(lock, new HubCacheLayout(cache, ID).lockFile(FakeHub.sha256(hub.files().get(UNET))));
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aDownloadWaitsForAnotherProcessHoldingTheLock(@TempDir Path tmp) throws Exception {
        Path lock = new HubCacheLayout(cache, ID).lockFile(FakeHub.sha256(hub.files().get(UNET)));
        Path src = Files.writeString(tmp.resolve("HoldLock.java"), """
                import java.nio.channels.FileChannel;
                import java.nio.file.*;
                public class HoldLock {
                    public static void main(String[] a) throws Exception {
                        Path p = Path.of(a[0]);
                        Files.createDirectories(p.getParent());
                        try (FileChannel c = FileChannel.open(p, StandardOpenOption.CREATE, StandardOpenOption.WRITE); var l = c.lock()) {
                            System.out.println("locked");
                            System.out.flush();
                            System.in.read(); // until the test closes stdin
                        }
                    }
                }
                """);
        Process holder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), src.toString(), lock.toString())
                .redirectErrorStream(true).start();
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            String first = new java.io.BufferedReader(new java.io.InputStreamReader(holder.getInputStream())).readLine();
            assertEquals("locked", first);
            List<String> seen = Collections.synchronizedList(new ArrayList<>());
            Future<Path> f = pool.submit(() -> new HubResolver(config(), new DownloadListener() {
                @Override
                public void downloadNote(String message) { seen.add(message); }
            }).resolve(ID, null));
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (seen.stream().noneMatch(n -> n.contains("another process is downloading")) && System.nanoTime() < deadline) Thread.sleep(20);
            assertTrue(seen.stream().anyMatch(n -> n.contains(UNET) && n.contains(lock.toString())), seen.toString());
            Thread.sleep(300);
            assertFalse(f.isDone(), "the download waits while the other process holds the lock");
            assertEquals(0, hub.bodyGets(UNET));
            holder.getOutputStream().close(); // the other process ends, and with it its lock
            Path snap = f.get(60, TimeUnit.SECONDS);
            assertArrayEquals(hub.files().get(UNET), Files.readAllBytes(snap.resolve(UNET)));
        } finally {
            holder.destroyForcibly();
            pool.shutdownNow();
        }
    }

    @Test
    void aPartialFileFromAnEarlierRunIsResumed() throws IOException {
        byte[] bytes = hub.files().get(VAE);
        Path blobs = Files.createDirectories(cache.resolve("models--test-org--tiny-sd2/blobs"));
        Files.write(blobs.resolve(FakeHub.sha256(bytes) + ".incomplete"), java.util.Arrays.copyOf(bytes, 1000));
        Path snap = resolve(config(), null);
        assertArrayEquals(bytes, Files.readAllBytes(snap.resolve(VAE)));
        assertTrue(hub.requests.contains("GET /cdn/" + VAE + " bytes=1000-"), hub.requests.toString());
    }

    @Test
    void aCorruptedFileIsRejectedAndDeleted() throws IOException {
        hub.corrupt.add(VAE);
        HubException e = assertThrows(HubException.class, () -> resolve(config(), null));
        assertTrue(e.getMessage().contains("checksum mismatch") && e.getMessage().contains(VAE), e.getMessage());
        Path repo = cache.resolve("models--test-org--tiny-sd2");
        String sha = FakeHub.sha256(hub.files().get(VAE));
        assertFalse(Files.exists(repo.resolve("blobs/" + sha)));
        assertFalse(Files.exists(repo.resolve("blobs/" + sha + ".incomplete")));
        assertFalse(Files.exists(repo.resolve("refs/main")), "an incomplete snapshot must not become refs/main");
        // the next run, with a healthy server, completes it
        hub.corrupt.clear();
        assertTrue(Files.exists(resolve(config(), null).resolve(VAE)));
    }

    @Test
    void aSecondRunUsesTheCacheWithoutTheNetwork() {
        Path first = resolve(config(), null);
        int before = hub.requests.size();
        hub.close();
        assertEquals(first, resolve(config(), null));
        assertEquals(first, resolve(config().withOffline(true), null));
        assertEquals(before, hub.requests.size());
    }

    @Test
    void offlineWithNothingCachedSaysWhatToDownloadAndWhere() {
        HubException e = assertThrows(HubException.class, () -> resolve(config().withOffline(true), null));
        String m = e.getMessage();
        assertTrue(m.contains("huggingface-cli download " + ID) && m.contains(cache.toString())
                && m.contains("models--test-org--tiny-sd2") && m.contains("HF_HUB_OFFLINE"), m);
        assertTrue(hub.requests.isEmpty(), "offline must not touch the network: " + hub.requests);
    }

    @Test
    void anUnreachableHubGivesTheSameAdvice() throws IOException {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        HubConfig c = new HubConfig(cache, "http://127.0.0.1:" + port, null, false);
        HubException e = assertThrows(HubException.class, () -> resolve(c, null));
        assertTrue(e.getMessage().contains("cannot be reached") && e.getMessage().contains("huggingface-cli download"), e.getMessage());
    }

    @Test
    void unknownModelIsA404Message() {
        HubException e = assertThrows(HubException.class, () -> new HubResolver(config(), listener).resolve("test-org/nope", null));
        assertTrue(e.getMessage().contains("not found"), e.getMessage());
    }

    @Test
    void configReadsTheHuggingFaceVariables() {
        HubConfig c = HubConfig.from(n -> switch (n) {
            case "HF_HOME" -> "/x/hf";
            case "HF_ENDPOINT" -> "http://mirror/";
            case "HF_TOKEN" -> "tok";
            case "HF_HUB_OFFLINE" -> "1";
            default -> null;
        });
        assertEquals(Path.of("/x/hf/hub"), c.cacheDir());
        assertEquals("http://mirror", c.endpoint());
        assertEquals("tok", c.token());
        assertTrue(c.offline());
        assertEquals(Path.of("/y"), HubConfig.from(n -> n.equals("HF_HUB_CACHE") ? "/y" : n.equals("HF_HOME") ? "/x" : null).cacheDir());
        assertEquals(HubConfig.DEFAULT_ENDPOINT, HubConfig.from(n -> null).endpoint());
    }
}
