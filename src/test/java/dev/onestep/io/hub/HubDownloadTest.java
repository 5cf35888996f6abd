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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Downloads from a loopback hub into a huggingface_hub-compatible cache: layout, resume, checksums, offline. */
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
