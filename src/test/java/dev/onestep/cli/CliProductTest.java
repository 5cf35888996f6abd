package dev.onestep.cli;

import dev.onestep.io.Npy;
import dev.onestep.pipeline.Prediction;
import dev.onestep.testutil.Compare;
import dev.onestep.testutil.FakeHub;
import dev.onestep.testutil.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;

import static dev.onestep.cli.CliTest.input;
import static dev.onestep.cli.CliTest.model;
import static dev.onestep.cli.CliTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Issue 3's product surface: inputs, naming, progress, quiet, bad inputs, memory refusal, hub downloads. */
class CliProductTest {
    static final String[] BASE = {"--device", "cpu", "--processing-res", "64", "--no-exif"};

    static String[] args(String task, Path out, String... rest) {
        List<String> a = new java.util.ArrayList<>(List.of(task, "--model", model()));
        a.addAll(List.of(BASE));
        a.addAll(List.of("-o", out.toString()));
        a.addAll(List.of(rest));
        return a.toArray(String[]::new);
    }

    @Test
    void folderInputIsSearchedRecursivelyAndSkipsOtherFiles(@TempDir Path tmp) throws IOException {
        Path in = Files.createDirectories(tmp.resolve("in/sub"));
        Files.copy(Path.of(input("case1_80x60")), tmp.resolve("in/a.png"));
        Files.copy(Path.of(input("case2_75x53")), in.resolve("b.PNG"));
        Files.writeString(tmp.resolve("in/notes.txt"), "not an image");
        Files.createDirectories(tmp.resolve("in/.hidden"));
        Files.copy(Path.of(input("case1_80x60")), tmp.resolve("in/.hidden/c.png"));
        Path out = tmp.resolve("out");
        CliTest.Result r = run(args("depth", out, "--format", "npy", tmp.resolve("in").toString()));
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("[2/2]") && r.err().contains("images/s") && r.err().contains("ETA"), r.err());
        assertTrue(r.err().contains("2 image(s): 2 written, 0 failed") && r.err().contains("UNet") && r.err().contains("peak memory"), r.err());
        Compare.assertClose("a", Fixtures.floats("case1_80x60", "depth_final.npy"), Npy.readFloats(out.resolve("a_depth.npy")), 1e-4);
        Compare.assertClose("b", Fixtures.floats("case2_75x53", "depth_final.npy"), Npy.readFloats(out.resolve("b_depth.npy")), 1e-4);
        try (var s = Files.list(out)) {
            assertEquals(2, s.count());
        }
    }

    @Test
    void stdinListReadsOnePathPerLine(@TempDir Path tmp) {
        String list = "# images\n" + input("case1_80x60") + "\n\n" + input("case1_80x60") + "\n";
        InputStream old = System.in;
        System.setIn(new ByteArrayInputStream(list.getBytes(StandardCharsets.UTF_8)));
        try {
            CliTest.Result r = run(args("normals", tmp, "-"));
            assertEquals(0, r.code(), r.err());
            assertTrue(r.err().contains("1 image(s)"), "duplicates are processed once: " + r.err());
        } finally {
            System.setIn(old);
        }
        assertTrue(Files.exists(tmp.resolve("input_normals.npy")) && Files.exists(tmp.resolve("input_normals.png")));
    }

    @Test
    void outputNamesFollowTheStemAndNeverCollide(@TempDir Path tmp) throws IOException {
        Path a = Files.createDirectories(tmp.resolve("a")), b = Files.createDirectories(tmp.resolve("b"));
        Files.copy(Path.of(input("case1_80x60")), a.resolve("x.png"));
        Files.copy(Path.of(input("case2_75x53")), b.resolve("x.png"));
        Path out = tmp.resolve("out");
        CliTest.Result r = run(args("depth", out, "-q", a.resolve("x.png").toString(), b.resolve("x.png").toString()));
        assertEquals(0, r.code(), r.err());
        for (String f : List.of("x_depth.npy", "x_depth.png", "x_depth_color.png", "x-2_depth.npy", "x-2_depth.png", "x-2_depth_color.png"))
            assertTrue(Files.exists(out.resolve(f)), f);
        Compare.assertClose("second x", Fixtures.floats("case2_75x53", "depth_final.npy"), Npy.readFloats(out.resolve("x-2_depth.npy")), 1e-4);
        assertEquals(Map.of(Path.of("p/x.png"), "x", Path.of("q/x.jpg"), "x-2", Path.of("x-2.png"), "x-2-2"),
                Inputs.outputStems(List.of(Path.of("p/x.png"), Path.of("q/x.jpg"), Path.of("x-2.png"))));
    }

    @Test
    void colormapPicksTheColourPngsMapAndAnUnknownOneIsAUsageError(@TempDir Path tmp) throws IOException {
        CliTest.Result r = run(args("depth", tmp, "-q", "--format", "npy,color", "--colormap", "viridis", input("case1_80x60")));
        assertEquals(0, r.code(), r.err());
        float[] d = Npy.readFloats(tmp.resolve("input_depth.npy"));
        dev.onestep.image.RgbImage img = dev.onestep.image.ImageLoader.load(tmp.resolve("input_depth_color.png"));
        for (int i = 0; i < d.length; i += 97) {
            int[] e = dev.onestep.image.ColorLut.VIRIDIS.color8(Math.min(1f, Math.max(0f, d[i])));
            for (int c = 0; c < 3; c++) assertEquals(e[c], img.get(c, i / img.width(), i % img.width()), "pixel " + i);
        }
        Path none = tmp.resolve("none");
        CliTest.Result bad = run(args("depth", none, "--colormap", "jet", input("case1_80x60")));
        assertEquals(2, bad.code(), bad.err());
        assertTrue(bad.err().contains("--colormap: unknown colour map 'jet'") && bad.err().contains("viridis"), bad.err());
        assertFalse(Files.exists(none), "nothing written on a usage error");
    }

    @Test
    void outputProcessingResWritesTheMapBeforeTheResizeBack(@TempDir Path tmp) throws IOException {
        CliTest.Result r = run(args("depth", tmp, "-q", "--format", "npy", "--output-processing-res", input("case1_80x60")));
        assertEquals(0, r.code(), r.err());
        Path f = tmp.resolve("input_depth.npy");
        int[] golden = Npy.shape(Fixtures.caseDir("case1_80x60").resolve("depth_proc_res.npy")), ours = Npy.shape(f);
        assertEquals(golden[golden.length - 2] + "×" + golden[golden.length - 1], ours[0] + "×" + ours[1]);
        Compare.assertClose("depth_proc_res", Fixtures.floats("case1_80x60", "depth_proc_res.npy"), Npy.readFloats(f), 1e-4);
    }

    @Test
    void versionNamesTheLibraryVersionAndCommit() {
        java.io.PrintStream old = System.out;
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        System.setOut(new java.io.PrintStream(out, true));
        int code;
        try {
            code = Main.run("--version");
        } finally {
            System.setOut(old);
        }
        assertEquals(0, code);
        assertEquals("OneStep " + dev.onestep.OneStep.version(), out.toString().strip());
    }

    @Test
    void quietPrintsNothingOnSuccess(@TempDir Path tmp) {
        CliTest.Result r = run(args("depth", tmp, "-q", input("case1_80x60")));
        assertEquals(0, r.code(), r.err());
        assertEquals("", r.err());
    }

    @Test
    void badFilesAreNamedAndTheGoodOnesWritten(@TempDir Path tmp) throws IOException {
        Path empty = Files.createFile(tmp.resolve("empty.png"));
        Path text = Files.writeString(tmp.resolve("text.jpg"), "hello");
        Path huge = tmp.resolve("huge.png");
        Files.write(huge, pngHeader(200_000, 200_000));
        Path out = tmp.resolve("out");
        CliTest.Result r = run(args("depth", out, "-q", empty.toString(), input("case1_80x60"), text.toString(),
                huge.toString(), tmp.resolve("missing.png").toString()));
        assertEquals(1, r.code(), r.err());
        for (String n : List.of("empty.png", "text.jpg", "huge.png", "missing.png")) assertTrue(r.err().contains(n), n + ": " + r.err());
        assertTrue(r.err().contains("too large to decode") && r.err().contains("-Xmx"), r.err());
        assertTrue(Files.exists(out.resolve("input_depth.npy")));
        try (var s = Files.list(out)) {
            assertEquals(3, s.count(), "only the good image's three files");
        }
    }

    @Test
    void nativeResolutionAboveMaxMemoryIsRefusedWithTheNeed(@TempDir Path tmp) {
        CliTest.Result r = run("depth", "--model", model(), "--device", "cpu", "--processing-res", "0", "--max-memory", "1m",
                "-o", tmp.toString(), input("case1_80x60"));
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().contains("needs about 2.9 MB") && r.err().contains("--max-memory 1.0 MB"), r.err());
    }

    @Test
    void aFullDiskLeavesNoFileAndTheNextImageStillRuns(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("out");
        Path bad = Files.copy(Path.of(input("case1_80x60")), tmp.resolve("first.png"));
        DepthCommand cmd = new DepthCommand();
        ResultWriter real = ResultWriter.FILES;
        cmd.writer = (Prediction p, Path dir, String stem, java.util.Set<String> f) -> {
            if (stem.equals("first")) {
                dev.onestep.io.AtomicFiles.write(dir.resolve("first_depth.npy"), o -> {
                    o.write(new byte[100]);
                    throw new IOException("No space left on device");
                });
            }
            real.write(p, dir, stem, f);
        };
        StringWriter err = new StringWriter();
        CommandLine cl = new CommandLine(cmd);
        cl.setErr(new PrintWriter(err, true));
        String[] a = args("depth", out, bad.toString(), input("case1_80x60"));
        int code = cl.execute(java.util.Arrays.copyOfRange(a, 1, a.length)); // without the subcommand name
        assertEquals(1, code, err.toString());
        assertTrue(err.toString().contains("first.png") && err.toString().contains("No space left on device"), err.toString());
        try (var s = Files.list(out)) {
            assertEquals(List.of("input_depth.npy", "input_depth.png", "input_depth_color.png"),
                    s.map(x -> x.getFileName().toString()).sorted().toList());
        }
    }

    @Test
    void anOutputFolderThatIsAFileIsOneClearError(@TempDir Path tmp) throws IOException {
        Path file = Files.writeString(tmp.resolve("out"), "x");
        CliTest.Result r = run(args("depth", file, input("case1_80x60")));
        assertEquals(1, r.code());
        assertTrue(r.err().contains("is a file"), r.err());
    }

    @Test
    void offlineWithoutTheModelSaysWhatToDownload(@TempDir Path tmp) {
        withHubProperties(Map.of("HF_HUB_CACHE", tmp.resolve("cache").toString(), "HF_HUB_OFFLINE", "1"), () -> {
            CliTest.Result r = run("depth", "-o", tmp.toString(), input("case1_80x60"));
            assertEquals(1, r.code());
            assertTrue(r.err().contains("GonzaloMG/marigold-e2e-ft-depth") && r.err().contains("huggingface-cli download")
                    && r.err().contains(tmp.resolve("cache").toString()), r.err());
        });
    }

    @Test
    void downloadsFromTheHubThenRunsFromTheCacheOffline(@TempDir Path tmp) throws IOException {
        try (FakeHub hub = new FakeHub("test-org/tiny-e2e-ft-normals", Fixtures.model())) {
            Path cache = tmp.resolve("cache");
            withHubProperties(Map.of("HF_HUB_CACHE", cache.toString(), "HF_ENDPOINT", hub.endpoint()), () -> {
                CliTest.Result r = run("normals", "--model", "test-org/tiny-e2e-ft-normals", "--device", "cpu", "--processing-res", "64",
                        "--no-exif", "-o", tmp.resolve("o1").toString(), input("case1_80x60"));
                assertEquals(0, r.code(), r.err());
                assertTrue(r.err().contains("Downloading test-org/tiny-e2e-ft-normals: 3 file(s)"), r.err());
                int before = hub.requests.size();
                r = run("normals", "--model", "test-org/tiny-e2e-ft-normals", "--offline", "--device", "cpu", "--processing-res", "64",
                        "--no-exif", "-o", tmp.resolve("o2").toString(), input("case1_80x60"));
                assertEquals(0, r.code(), r.err());
                assertEquals(before, hub.requests.size());
                // a depth run on a checkpoint named for normals warns
                r = run("depth", "--model", "test-org/tiny-e2e-ft-normals", "--device", "cpu", "--processing-res", "64",
                        "-o", tmp.resolve("o3").toString(), input("case1_80x60"));
                assertTrue(r.err().contains("warning: depth was asked for, but this looks like a normals checkpoint"), r.err());
            });
            Compare.assertClose("downloaded normals", Fixtures.floats("case1_80x60", "normal_final.npy"),
                    Npy.readFloats(tmp.resolve("o2/input_normals.npy")), 1e-3);
        }
    }

    /** Sets hub settings as system properties (HubConfig reads them before the environment) for one block. */
    static void withHubProperties(Map<String, String> props, Runnable body) {
        for (var e : props.entrySet()) System.setProperty(e.getKey(), e.getValue());
        try {
            body.run();
        } finally {
            for (String k : props.keySet()) System.clearProperty(k);
        }
    }

    /** A PNG signature and IHDR claiming w × h, with no pixel data: probing sees the size, decoding would fail. */
    static byte[] pngHeader(int w, int h) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream d = new DataOutputStream(bytes);
        d.write(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'});
        ByteArrayOutputStream chunk = new ByteArrayOutputStream();
        DataOutputStream c = new DataOutputStream(chunk);
        c.writeBytes("IHDR");
        c.writeInt(w);
        c.writeInt(h);
        c.write(new byte[] {8, 2, 0, 0, 0});
        byte[] body = chunk.toByteArray();
        d.writeInt(body.length - 4);
        d.write(body);
        CRC32 crc = new CRC32();
        crc.update(body);
        d.writeInt((int) crc.getValue());
        return bytes.toByteArray();
    }
}
