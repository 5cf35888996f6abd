package dev.onestep.cli;

import dev.onestep.testutil.FakeHub;
import dev.onestep.testutil.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import static dev.onestep.cli.CliProductTest.withHubProperties;
import static dev.onestep.cli.CliTest.input;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** --revision and ORG/NAME@REV on the commands that take --model: the commit is reported, contradictions refused. */
class RevisionCliTest {
    static final String ID = "test-org/tiny-e2e-ft-depth";
    static final String C2 = "fedcba9876543210fedcba9876543210fedcba98";

    static FakeHub hubWithTag() throws IOException {
        FakeHub hub = new FakeHub(ID, Fixtures.model());
        Map<String, byte[]> second = new HashMap<>(hub.files());
        second.put("model_index.json", (new String(hub.files().get("model_index.json"), StandardCharsets.UTF_8) + "\n").getBytes(StandardCharsets.UTF_8));
        hub.addCommit(C2, second);
        hub.addRef("v1.0", C2);
        return hub;
    }

    @Test
    void depthAndInfoTakeARevisionAndReportItsCommit(@TempDir Path tmp) throws IOException {
        try (FakeHub hub = hubWithTag()) {
            Path cache = tmp.resolve("cache");
            withHubProperties(Map.of("HF_HUB_CACHE", cache.toString(), "HF_ENDPOINT", hub.endpoint()), () -> {
                CliTest.Result r = CliTest.run("depth", "--model", ID, "--revision", "v1.0", "--device", "cpu", "--processing-res", "64",
                        "--no-exif", "--format", "npy", "-o", tmp.resolve("o1").toString(), input("case1_80x60"));
                assertEquals(0, r.code(), r.err());
                assertTrue(r.err().contains("Downloading " + ID + "@v1.0: 3 file(s)"), r.err());
                assertTrue(r.err().contains("model " + ID + "@v1.0 = commit " + C2), r.err());
                assertTrue(Files.exists(tmp.resolve("o1/input_depth.npy")));

                MarigoldEvalCliTest.Result info = MarigoldEvalCliTest.run("info", "--model", ID + "@v1.0", "--offline");
                assertEquals(0, info.code(), info.err());
                Path snap = cache.resolve("models--test-org--tiny-e2e-ft-depth/snapshots/" + C2);
                assertTrue(info.out().startsWith("model: " + snap.toAbsolutePath() + "\nrevision: " + ID + "@v1.0 = commit " + C2 + "\n"), info.out());
                MarigoldEvalCliTest.Result commit = MarigoldEvalCliTest.run("info", "--model", ID, "--revision", C2, "--offline");
                assertTrue(commit.out().contains("revision: " + ID + "@" + C2 + " = commit " + C2), commit.out() + commit.err());

                // ORG/NAME@REV and --revision must agree
                CliTest.Result both = CliTest.run("depth", "--model", ID + "@v1.0", "--revision", "main", "--offline", "-o",
                        tmp.resolve("o2").toString(), input("case1_80x60"));
                assertEquals(1, both.code());
                assertTrue(both.err().contains("onestep: two revisions for " + ID + ": 'v1.0' in " + ID + "@v1.0 and 'main' given separately (--revision); give one"),
                        both.err());
                // offline, a revision never fetched is one clear error
                CliTest.Result miss = CliTest.run("depth", "--model", ID, "--revision", "v2.0", "--offline", "-o",
                        tmp.resolve("o3").toString(), input("case1_80x60"));
                assertEquals(1, miss.code());
                assertTrue(miss.err().contains("revision 'v2.0' of model " + ID + " is not in the Hugging Face cache")
                        && miss.err().contains("refs/v2.0") && miss.err().contains("HF_HUB_OFFLINE"), miss.err());
                CliTest.Result shortHash = CliTest.run("depth", "--model", ID, "--revision", "fedcba9", "-o",
                        tmp.resolve("o4").toString(), input("case1_80x60"));
                assertEquals(1, shortHash.code());
                assertTrue(shortHash.err().contains("looks like an abbreviated commit hash"), shortHash.err());
            });
        }
    }

    @Test
    void aRevisionOnALocalFolderIsRefused(@TempDir Path tmp) {
        for (String cmd : new String[]{"depth", "info"}) {
            MarigoldEvalCliTest.Result r = cmd.equals("info")
                    ? MarigoldEvalCliTest.run("info", "--model", Fixtures.model().toString(), "--revision", "v1.0")
                    : MarigoldEvalCliTest.run(cmd, "--model", Fixtures.model().toString(), "--revision", "v1.0", "-o", tmp.toString(), input("case1_80x60"));
            assertEquals(1, r.code(), cmd);
            assertTrue(r.err().contains("revision 'v1.0' applies to Hugging Face ids only, but " + Fixtures.model() + " is a local folder"), r.err());
        }
    }

    @Test
    void everyCommandWithAModelTakesRevision() {
        for (String cmd : new String[]{"depth", "normals", "marigold", "eval", "info"}) {
            String help = MarigoldEvalCliTest.run(cmd, "--help").out();
            assertTrue(help.contains("--revision=REV") && help.contains("--offline"), cmd + ": " + help);
        }
        String info = MarigoldEvalCliTest.run("info", "--help").out();
        assertFalse(info.contains("--device"), info);
    }
}
