package dev.onestep.cli;

import dev.onestep.io.Npy;
import dev.onestep.io.OutputWriters;
import dev.onestep.testutil.Compare;
import dev.onestep.testutil.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** `marigold` against the ddim4 goldens through the CLI, and `eval` on a tiny generated dataset with known metrics. */
class MarigoldEvalCliTest {
    static final String CASE = "case1_80x60";

    record Result(int code, String out, String err) {}

    static Result run(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true));
        System.setErr(new PrintStream(err, true));
        try {
            int code = Main.run(args);
            return new Result(code, out.toString(), err.toString());
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    static String input() { return Fixtures.caseDir(CASE).resolve("input.png").toString(); }

    @Test
    void marigoldWithTheReferenceNoiseReproducesTheGolden(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("out");
        Result r = run("marigold", "--model", Fixtures.model().toString(), "--device", "cpu", "--task", "depth",
                "--steps", "4", "--ensemble", "1", "--spacing", "leading", "--final", "prev", "--processing-res", "64",
                "--noise", Fixtures.caseDir(CASE).resolve("ddim4_leading/init_noise.npy").toString(), "--no-exif",
                "-o", out.toString(), input());
        assertEquals(0, r.code(), r.err());
        Compare.assertClose("cli marigold_depth_final", Fixtures.floats(CASE, "ddim4_leading/marigold_depth_final.npy"),
                Npy.readFloats(out.resolve("input_depth.npy")), 1e-4);
        assertTrue(Files.exists(out.resolve("input_depth.png")));
        assertTrue(Files.exists(out.resolve("input_depth_color.png")));
        assertFalse(Files.exists(out.resolve("input_depth_uncertainty.npy")), "no uncertainty for one member");
    }

    @Test
    void marigoldEnsembleWritesUncertainty(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("out");
        Result r = run("marigold", "--model", Fixtures.model().toString(), "--device", "cpu", "--task", "normals",
                "--steps", "2", "--ensemble", "2", "--seed", "5", "--processing-res", "64", "--format", "npy", "-q",
                "-o", out.toString(), input());
        assertEquals(0, r.code(), r.err());
        assertEquals(3, Npy.shape(out.resolve("input_normals.npy")).length);
        Compare.assertShape("uncertainty", new int[]{60, 80}, Npy.shape(out.resolve("input_normals_uncertainty.npy")));
        Result bad = run("marigold", "--model", Fixtures.model().toString(), "--spacing", "sideways", "-o", out.toString(), input());
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("sideways"), bad.err());
    }

    @Test
    void evalOnAnAffineCopyOfTheModelsOwnPredictionIsPerfect(@TempDir Path tmp) throws IOException {
        // GT = 0.5 + 3·(one-step depth at native resolution), written as .npy metres, plus one 16-bit PNG copy
        Path pred = tmp.resolve("pred");
        Result p = run("depth", "--model", Fixtures.model().toString(), "--device", "cpu", "--processing-res", "0",
                "--format", "npy", "--no-exif", "-q", "-o", pred.toString(), input());
        assertEquals(0, p.code(), p.err());
        float[] d = Npy.readFloats(pred.resolve("input_depth.npy"));
        Path ds = tmp.resolve("ds");
        Files.createDirectories(ds.resolve("rgb"));
        Files.createDirectories(ds.resolve("depth"));
        Files.copy(Fixtures.caseDir(CASE).resolve("input.png"), ds.resolve("rgb/a.png"));
        float[] gt = new float[d.length];
        for (int i = 0; i < d.length; i++) gt[i] = 0.5f + 3 * d[i];
        Npy.write(ds.resolve("depth/a.npy"), gt, 60, 80);
        Path json = tmp.resolve("m.json");
        Result r = run("eval", "--model", Fixtures.model().toString(), "--dataset", ds.toString(), "--kind", "scannet",
                "--device", "cpu", "--json", json.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("AbsRel"), r.out());
        assertTrue(r.err().contains("[result 1/1] a"), r.err());
        String j = Files.readString(json);
        double absRel = Double.parseDouble(j.replaceAll("(?s).*\"metrics\": \\{\"abs_rel\": ([^,]+),.*", "$1"));
        // one-step CPU runs differ by ~3e-6 from run to run, so "≈ 0" rather than 0
        assertTrue(absRel < 1e-4, "AbsRel " + absRel);
        assertTrue(j.contains("\"delta1\": 1.0"), j);

        // a 16-bit millimetre PNG of the same GT and --compare: two rows
        Files.delete(ds.resolve("depth/a.npy"));
        int[] mm = new int[gt.length];
        java.awt.image.BufferedImage bi = new java.awt.image.BufferedImage(80, 60, java.awt.image.BufferedImage.TYPE_USHORT_GRAY);
        for (int i = 0; i < gt.length; i++) mm[i] = Math.round(gt[i] * 1000);
        bi.getRaster().setSamples(0, 0, 80, 60, 0, mm);
        dev.onestep.io.AtomicFiles.write(ds.resolve("depth/a.png"), o -> javax.imageio.ImageIO.write(bi, "png", o));
        Result c = run("eval", "--model", Fixtures.model().toString(), "--dataset", ds.toString(), "--kind", "nyuv2",
                "--min-depth", "0.001", "--device", "cpu", "--compare", "--steps", "2", "--ensemble", "2", "--spacing", "leading", "-q");
        assertEquals(0, c.code(), c.err());
        assertTrue(c.out().contains("one-step") && c.out().contains("multi-step") && c.out().contains("2×2 leading"), c.out());
    }

    @Test
    void evalNormalsOnTheModelsOwnNormalsHasZeroError(@TempDir Path tmp) throws IOException {
        Path pred = tmp.resolve("pred");
        Result p = run("normals", "--model", Fixtures.model().toString(), "--device", "cpu", "--processing-res", "0",
                "--format", "npy", "--no-exif", "-q", "-o", pred.toString(), input());
        assertEquals(0, p.code(), p.err());
        Path ds = tmp.resolve("ds");
        Files.createDirectories(ds.resolve("rgb"));
        Files.createDirectories(ds.resolve("normals"));
        Files.copy(Fixtures.caseDir(CASE).resolve("input.png"), ds.resolve("rgb/a.png"));
        Files.copy(pred.resolve("input_normals.npy"), ds.resolve("normals/a.npy"));
        Path json = tmp.resolve("n.json");
        Result r = run("eval", "--model", Fixtures.model().toString(), "--dataset", ds.toString(), "--task", "normals",
                "--device", "cpu", "-q", "--json", json.toString());
        assertEquals(0, r.code(), r.err());
        String j = Files.readString(json);
        double mean = Double.parseDouble(j.replaceAll("(?s).*\"metrics\": \\{\"mean\": ([^,]+),.*", "$1"));
        assertTrue(mean < 0.1, "mean angular error " + mean + "°");
    }

    @Test
    void evalWithoutGroundTruthIsAClearError(@TempDir Path tmp) throws IOException {
        Files.createDirectories(tmp.resolve("rgb"));
        Result r = run("eval", "--model", Fixtures.model().toString(), "--dataset", tmp.toString(), "--device", "cpu");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("ground truth"), r.err());
    }
}
