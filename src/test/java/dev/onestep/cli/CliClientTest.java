package dev.onestep.cli;

import dev.onestep.io.Npy;
import dev.onestep.testutil.Compare;
import dev.onestep.testutil.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static dev.onestep.cli.CliProductTest.args;
import static dev.onestep.cli.CliTest.input;
import static dev.onestep.cli.CliTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** `depth` and `normals` as clients of the engine: batches, inputs checked before loading, output names, format names. */
class CliClientTest {
    static final String A = "case1_80x60", B = "case2_75x53";

    /** Five files, two processing sizes, --batch-size 2: a batch of two, and what is left of each size at the end. */
    @Test
    void batchesGiveTheGoldens(@TempDir Path tmp) throws IOException {
        Path in = Files.createDirectories(tmp.resolve("in"));
        List<String> cases = List.of(A, B, A, A, B);
        for (int i = 0; i < cases.size(); i++) Files.copy(Path.of(input(cases.get(i))), in.resolve("img" + i + ".png"));
        for (String task : List.of("depth", "normals")) {
            Path out = tmp.resolve("out-" + task);
            CliTest.Result r = run(args(task, out, "--format", "npy", "--batch-size", "2", in.toString()));
            assertEquals(0, r.code(), r.err());
            assertTrue(r.err().contains("5 image(s): 5 written, 0 failed"), r.err());
            for (int i = 0; i < cases.size(); i++) {
                String golden = task.equals("depth") ? "depth_final.npy" : "normal_final.npy";
                Compare.assertClose(task + " img" + i, Fixtures.floats(cases.get(i), golden),
                        Npy.readFloats(out.resolve("img" + i + "_" + task + ".npy")), task.equals("depth") ? 1e-4 : 1e-3);
            }
        }
    }

    @Test
    void badBatchSizesAndBatchesWithDumpAreUsageErrors(@TempDir Path tmp) {
        for (String n : List.of("0", "-1", "1025")) {
            CliTest.Result r = run(args("depth", tmp.resolve("o"), "--batch-size", n, input(A)));
            assertEquals(2, r.code(), r.err());
            assertTrue(r.err().contains("--batch-size must be 1..1024"), r.err());
        }
        CliTest.Result r = run(args("depth", tmp.resolve("o"), "--batch-size", "2", "--dump", tmp.resolve("d").toString(), input(A)));
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--dump") && r.err().contains("--batch-size"), r.err());
    }

    /** A missing input is reported before the model loads: here the model does not exist, and is never opened. */
    @Test
    void inputsThatCannotBeReadFailBeforeTheModelLoads(@TempDir Path tmp) {
        Path missing = tmp.resolve("missing.png");
        CliTest.Result r = run("depth", "--model", tmp.resolve("no-such-model").toString(), "--device", "cpu", "-o", tmp.resolve("o").toString(),
                missing.toString());
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().contains("error: " + missing + ": no such file"), r.err());
        assertFalse(r.err().contains("no-such-model"), "the model was not opened: " + r.err());
        assertTrue(r.err().contains("1 image(s): 0 written, 1 failed"), r.err());
        assertFalse(Files.exists(tmp.resolve("o")), "no output folder for a run with nothing to do");
        // a good input beside a missing one: the good one is written, the missing one named once, exit 1
        CliTest.Result mixed = run(args("depth", tmp.resolve("o2"), "--format", "npy", missing.toString(), input(A)));
        assertEquals(1, mixed.code(), mixed.err());
        List<String> naming = mixed.err().lines().filter(l -> l.contains(missing.toString())).toList();
        assertEquals(List.of("error: " + missing + ": no such file"), naming, mixed.err());
        assertTrue(Files.exists(tmp.resolve("o2/input_depth.npy")), mixed.err());
    }

    @Test
    void sharedNamesAreSaidAndKeepTreeMirrorsTheFolders(@TempDir Path tmp) throws IOException {
        Path in = tmp.resolve("photos");
        Files.createDirectories(in.resolve("a"));
        Files.createDirectories(in.resolve("b/c"));
        Files.copy(Path.of(input(A)), in.resolve("a/scene.png"));
        Files.copy(Path.of(input(B)), in.resolve("b/c/scene.png"));
        Files.copy(Path.of(input(A)), in.resolve("scene.jpg.png"));
        Path flat = tmp.resolve("flat");
        CliTest.Result r = run(args("depth", flat, "--format", "npy", in.toString()));
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("note: " + in.resolve("a/scene.png") + " and " + in.resolve("b/c/scene.png")
                + " share the output name scene; " + in.resolve("b/c/scene.png") + " is written as scene-2_*"), r.err());
        Compare.assertClose("renamed", Fixtures.floats(B, "depth_final.npy"), Npy.readFloats(flat.resolve("scene-2_depth.npy")), 1e-4);

        Path tree = tmp.resolve("tree");
        CliTest.Result k = run(args("depth", tree, "--format", "npy", "--keep-tree", in.toString()));
        assertEquals(0, k.code(), k.err());
        assertFalse(k.err().contains("share the output name"), k.err());
        Compare.assertClose("a/scene", Fixtures.floats(A, "depth_final.npy"), Npy.readFloats(tree.resolve("a/scene_depth.npy")), 1e-4);
        Compare.assertClose("b/c/scene", Fixtures.floats(B, "depth_final.npy"), Npy.readFloats(tree.resolve("b/c/scene_depth.npy")), 1e-4);
        assertTrue(Files.exists(tree.resolve("scene.jpg_depth.npy")), "a file at the top of the folder stays at the top");
    }

    @Test
    void pngAndPng16NameTheSameDepthMap(@TempDir Path tmp) throws IOException {
        CliTest.Result a = run(args("depth", tmp.resolve("a"), "--format", "png", input(A)));
        CliTest.Result b = run(args("depth", tmp.resolve("b"), "--format", "png16", input(A)));
        assertEquals(0, a.code(), a.err());
        assertEquals(0, b.code(), b.err());
        assertEquals(-1, Files.mismatch(tmp.resolve("a/input_depth.png"), tmp.resolve("b/input_depth.png")));
        CliTest.Result n = run(args("normals", tmp.resolve("n"), "--format", "png16", input(A)));
        assertEquals(2, n.code(), "normals' PNG is 8-bit RGB: png16 is not one of its names: " + n.err());
    }

    @Test
    void anExceptionWithoutAMessageIsNotShownAsAJavaClassName() {
        String m = Main.message(new NullPointerException());
        assertFalse(m.contains("NullPointerException") || m.contains("java."), m);
        assertTrue(m.contains("ONESTEP_DEBUG"), m);
    }
}
