package dev.onestep.io.hub;

import dev.onestep.io.ModelLocator;
import dev.onestep.io.WeightsException;
import dev.onestep.testutil.FakeHub;
import dev.onestep.testutil.Fixtures;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Revisions against the loopback hub, as huggingface_hub's snapshot_download treats them: branches, tags and pull
 * requests through refs/NAME, full commit hashes through snapshots/COMMIT, offline hits and misses, refusals.
 */
class HubRevisionTest {
    static final String ID = HubDownloadTest.ID;
    static final String UNET = HubDownloadTest.UNET;
    /** A second commit: the same weights, another model_index.json. */
    static final String C2 = "fedcba9876543210fedcba9876543210fedcba98";

    @TempDir
    Path cache;
    FakeHub hub;
    Path repo;
    final List<String> resolved = new ArrayList<>();
    final List<String> started = new ArrayList<>();
    final DownloadListener listener = new DownloadListener() {
        @Override
        public void revisionResolved(String r, String revision, String commit) { resolved.add(r + "@" + revision + "=" + commit); }

        @Override
        public void downloadStarted(String r, int files, long bytes) { started.add(r + " " + files); }
    };

    @BeforeEach
    void start() throws IOException {
        hub = new FakeHub(ID, Fixtures.model());
        Map<String, byte[]> second = new HashMap<>(hub.files());
        second.put("model_index.json", (new String(hub.files().get("model_index.json"), StandardCharsets.UTF_8) + "\n").getBytes(StandardCharsets.UTF_8));
        hub.addCommit(C2, second);
        repo = cache.resolve("models--test-org--tiny-sd2");
    }

    @AfterEach
    void stop() { hub.close(); }

    HubConfig online() { return new HubConfig(cache, hub.endpoint(), null, false); }

    HubConfig offline() { return online().withOffline(true); }

    Path resolve(HubConfig c, String revision) { return new HubResolver(c, listener).resolve(ID, revision, null); }

    @Test
    void aBranchIsResolvedThroughTheApiAndCachedAsARef() throws IOException {
        hub.addRef("dev", C2);
        Path snap = resolve(online(), "dev");
        assertEquals(repo.resolve("snapshots").resolve(C2), snap);
        assertEquals(C2, Files.readString(repo.resolve("refs/dev")));
        assertFalse(Files.exists(repo.resolve("refs/main")), "only the revision asked for gets a ref");
        assertEquals(hub.files().get("model_index.json").length + 1, Files.readAllBytes(snap.resolve("model_index.json")).length, "C2's file");
        assertTrue(hub.requests.contains("GET /api/models/" + ID + "/revision/dev"), hub.requests.toString());
        assertTrue(hub.requests.stream().filter(r -> r.contains("/resolve/")).allMatch(r -> r.contains("/resolve/" + C2 + "/")),
                "files are fetched by commit: " + hub.requests);
        assertEquals(List.of(ID + "@dev=" + C2), resolved);
        assertEquals(List.of(ID + "@dev 3"), started, "the download line names the revision");
    }

    @Test
    void aTagWorksLikeABranch() throws IOException {
        hub.addRef("v1.0", C2);
        assertEquals(repo.resolve("snapshots").resolve(C2), resolve(online(), "v1.0"));
        assertEquals(C2, Files.readString(repo.resolve("refs/v1.0")));
    }

    @Test
    void aFullCommitHashIsUsedDirectlyAndWritesNoRef() {
        Path snap = resolve(online(), C2);
        assertEquals(repo.resolve("snapshots").resolve(C2), snap);
        assertFalse(Files.exists(repo.resolve("refs")), "no ref for a commit, as huggingface_hub");
        assertTrue(hub.requests.contains("GET /api/models/" + ID + "/revision/" + C2), hub.requests.toString());
        assertEquals(List.of(ID + "@" + C2 + "=" + C2), resolved);
        // and then offline, straight from snapshots/COMMIT
        hub.requests.clear();
        assertEquals(snap, resolve(offline(), C2));
        assertTrue(hub.requests.isEmpty(), hub.requests.toString());
    }

    @Test
    void aPullRequestRefIsUrlEncodedAndCachedUnderRefsRefsPr() throws IOException {
        hub.addRef("refs/pr/1", C2);
        Path snap = resolve(online(), "refs/pr/1");
        assertEquals(repo.resolve("snapshots").resolve(C2), snap);
        assertTrue(hub.requests.contains("GET /api/models/" + ID + "/revision/refs%2Fpr%2F1"), hub.requests.toString());
        assertEquals(C2, Files.readString(repo.resolve("refs/refs/pr/1")), "huggingface_hub's path for revision refs/pr/1");
        try (Stream<Path> s = Files.list(repo.resolve("refs/refs/pr"))) {
            assertEquals(List.of(repo.resolve("refs/refs/pr/1")), s.toList(), "no temporary file left beside the ref");
        }
        hub.requests.clear();
        assertEquals(snap, resolve(offline(), "refs/pr/1"));
        assertTrue(hub.requests.isEmpty());
    }

    @Test
    void offlineABranchResolvesOnlyThroughItsRef() throws IOException {
        hub.addRef("v1.0", C2);
        Path snap = resolve(online(), "v1.0");
        hub.requests.clear();
        assertEquals(snap, resolve(offline(), "v1.0"));
        assertTrue(hub.requests.isEmpty());
        // another name for the same commit is not known offline, and main is not taken from v1.0's only snapshot
        HubException e = assertThrows(HubException.class, () -> resolve(offline(), "v2.0"));
        assertEquals("revision 'v2.0' of model " + ID + " is not in the Hugging Face cache (" + cache + "): there is no ref "
                + repo.resolve("refs/v2.0") + "; and HF_HUB_OFFLINE is set, so nothing is downloaded. On a machine with network access run "
                + "`huggingface-cli download " + ID + " --revision v2.0 --exclude '*.bin' '*.ckpt'`, then copy its cache folder "
                + "models--test-org--tiny-sd2 into " + cache + " (or point HF_HOME / HF_HUB_CACHE at the cache that holds it); or download "
                + "the repository's files at that revision and pass --model with that local diffusers folder.", e.getMessage());
        HubException main = assertThrows(HubException.class, () -> resolve(offline(), null));
        assertTrue(main.getMessage().startsWith("model " + ID + " is not in the Hugging Face cache"), main.getMessage());
        // a ref whose snapshot is gone says so
        Files.writeString(repo.resolve("refs/old"), FakeHub.COMMIT);
        HubException gone = assertThrows(HubException.class, () -> resolve(offline(), "old"));
        assertTrue(gone.getMessage().contains("ref " + repo.resolve("refs/old") + " names commit " + FakeHub.COMMIT
                + ", but there is no snapshot " + repo.resolve("snapshots").resolve(FakeHub.COMMIT)), gone.getMessage());
        assertTrue(hub.requests.isEmpty(), "offline must not touch the network: " + hub.requests);
    }

    @Test
    void offlineACommitResolvesOnlyThroughItsSnapshot() {
        resolve(online(), null); // main = COMMIT is cached, C2 is not
        hub.requests.clear();
        assertEquals(repo.resolve("snapshots").resolve(FakeHub.COMMIT), resolve(offline(), FakeHub.COMMIT));
        HubException e = assertThrows(HubException.class, () -> resolve(offline(), C2));
        String m = e.getMessage();
        assertTrue(m.startsWith("revision '" + C2 + "' of model " + ID + " is not in the Hugging Face cache (" + cache + "): there is no snapshot "
                + repo.resolve("snapshots").resolve(C2) + "; and HF_HUB_OFFLINE is set"), m);
        assertTrue(hub.requests.isEmpty(), hub.requests.toString());
    }

    @Test
    void anAbbreviatedCommitHashIsRefusedBeforeAnyRequest() {
        HubException e = assertThrows(HubException.class, () -> resolve(online(), "fedcba9"));
        assertEquals("revision 'fedcba9' of " + ID + " looks like an abbreviated commit hash; give the full 40-character commit hash "
                + "(huggingface_hub needs it to find the snapshot offline) or a branch or tag name", e.getMessage());
        assertThrows(HubException.class, () -> resolve(offline(), C2.substring(0, 12)));
        assertTrue(hub.requests.isEmpty(), hub.requests.toString());
        // all digits is a name (a date tag), not a hash
        hub.addRef("20240101", C2);
        assertEquals(repo.resolve("snapshots").resolve(C2), resolve(online(), "20240101"));
    }

    @Test
    void anUnknownRevisionIsTheHubsRevisionNotFound() {
        HubException e = assertThrows(HubException.class, () -> resolve(online(), "no-such-branch"));
        assertEquals("model " + ID + " has no revision 'no-such-branch' on " + hub.endpoint()
                + " (HTTP 404, Revision Not Found); check the branch, tag or commit name (a commit must be the full 40-character hash)",
                e.getMessage());
        assertFalse(Files.exists(repo.resolve("refs/no-such-branch")));
        assertThrows(HubException.class, () -> resolve(online(), "0000000000000000000000000000000000000000"));
    }

    @Test
    void twoRevisionsLieSideBySideAndShareTheirBlobs() throws IOException {
        hub.addRef("v2", C2);
        Path main = resolve(online(), null);
        Path v2 = resolve(online(), "v2");
        assertNotEquals(main, v2);
        assertEquals(FakeHub.COMMIT, Files.readString(repo.resolve("refs/main")));
        assertEquals(C2, Files.readString(repo.resolve("refs/v2")));
        assertEquals(Files.readSymbolicLink(main.resolve(UNET)), Files.readSymbolicLink(v2.resolve(UNET)), "one blob for equal weights");
        assertNotEquals(Files.readSymbolicLink(main.resolve("model_index.json")), Files.readSymbolicLink(v2.resolve("model_index.json")));
        assertEquals(1, hub.bodyGets(UNET), "the weights are downloaded once: " + hub.requests);
        assertEquals(2, hub.bodyGets("model_index.json"), hub.requests.toString());
        // both stay usable offline
        hub.requests.clear();
        assertEquals(main, resolve(offline(), null));
        assertEquals(main, resolve(offline(), "main"));
        assertEquals(v2, resolve(offline(), "v2"));
        assertTrue(hub.requests.isEmpty());
    }

    @Test
    void theRefIsWrittenOnlyOnceTheSnapshotIsComplete() throws IOException {
        hub.addRef("v2", C2);
        hub.corrupt.add(HubDownloadTest.VAE);
        assertThrows(HubException.class, () -> resolve(online(), "v2"));
        assertTrue(Files.isDirectory(repo.resolve("snapshots").resolve(C2)), "files were linked");
        assertFalse(Files.exists(repo.resolve("refs/v2")), "an incomplete snapshot must not become refs/v2");
        assertThrows(HubException.class, () -> resolve(offline(), "v2"));
        hub.corrupt.clear();
        resolve(online(), "v2");
        assertEquals(C2, Files.readString(repo.resolve("refs/v2")));
    }

    @Test
    void theLocatorTakesIdAtRevisionAndRefusesContradictions(@TempDir Path local) throws IOException {
        hub.addRef("v2", C2);
        ModelLocator.Location at = ModelLocator.find(ID + "@v2", null, null, online(), listener);
        assertEquals(new ModelLocator.Location(repo.resolve("snapshots").resolve(C2), ID, "v2", C2), at);
        assertEquals(at, ModelLocator.find(ID + "@v2", "v2", null, online(), listener), "the same revision twice is fine");
        assertEquals(at, ModelLocator.find(ID, "v2", null, offline(), listener));
        assertEquals(repo.resolve("snapshots").resolve(C2), ModelLocator.locate(ID + "@" + C2, null, null, online(), listener));
        WeightsException two = assertThrows(WeightsException.class, () -> ModelLocator.find(ID + "@v2", "main", null, online(), listener));
        assertEquals("two revisions for " + ID + ": 'v2' in " + ID + "@v2 and 'main' given separately (--revision); give one", two.getMessage());
        WeightsException folder = assertThrows(WeightsException.class, () -> ModelLocator.find(local.toString(), "v2", null, online(), listener));
        assertEquals("revision 'v2' applies to Hugging Face ids only, but " + local + " is a local folder", folder.getMessage());
        Path orgName = Files.createDirectories(local.resolve("org/name"));
        WeightsException inline = assertThrows(WeightsException.class, () -> ModelLocator.find(orgName + "@v2", null, null, online(), listener));
        assertEquals("revision 'v2' applies to Hugging Face ids only, but " + orgName + " is a local folder", inline.getMessage());
        assertThrows(WeightsException.class, () -> ModelLocator.find(ID + "@", null, null, online(), listener));
        ModelLocator.Location plain = ModelLocator.find(local.toString(), null, null, online(), listener);
        assertFalse(plain.isHub());
    }
}
