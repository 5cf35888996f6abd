package dev.onestep.cli;

import dev.onestep.io.Npy;
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

/** The CLI end to end on the fixture model: outputs, dumps, mixed good and bad inputs, exit codes. */
class CliTest {
    static String model() { return Fixtures.model().toString(); }

    static String input(String c) { return Fixtures.caseDir(c).resolve("input.png").toString(); }

    /** Runs the CLI capturing stderr. */
    static Result run(String... args) {
        PrintStream oldErr = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true));
        try {
            int code = Main.run(args);
            return new Result(code, err.toString());
        } finally {
            System.setErr(oldErr);
        }
    }

    record Result(int code, String err) {}

    @Test
    void depthWritesNpyMatchingTheReferenceAndDumpsStages(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("out"), dump = tmp.resolve("dump");
        Result r = run("depth", "--model", model(), "--device", "cpu", "--processing-res", "64", "--format", "npy",
                "--no-exif", "--dump", dump.toString(), "-o", out.toString(), input("case1_80x60"));
        assertEquals(0, r.code(), r.err());
        Compare.assertClose("cli depth", Fixtures.floats("case1_80x60", "depth_final.npy"),
                Npy.readFloats(out.resolve("input_depth.npy")), 1e-4);
        assertFalse(Files.exists(out.resolve("input_depth.png")), "only npy was asked for");
        Compare.assertClose("cli dump unet_output", Fixtures.floats("case1_80x60", "unet_output.npy"),
                Npy.readFloats(dump.resolve("unet_output.npy")), 1e-4);
        for (String a : new String[]{"unet/down_blocks.0", "vae_enc/encoder.mid_block", "vae_dec/decoder.up_blocks.3"})
            assertTrue(Files.exists(dump.resolve("activations/" + a + ".npy")), a);
    }

    @Test
    void mixedGoodAndBadInputsWriteTheGoodOnesAndExitNonZero(@TempDir Path tmp) throws IOException {
        Path bad = tmp.resolve("broken.png");
        Files.writeString(bad, "not an image");
        Path out = tmp.resolve("out");
        Result r = run("normals", "--model", model(), "--device", "cpu", "--processing-res", "64", "-q",
                "-o", out.toString(), input("case1_80x60"), bad.toString());
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().contains("broken.png"), r.err());
        assertTrue(Files.exists(out.resolve("input_normals.npy")));
        assertTrue(Files.exists(out.resolve("input_normals.png")));
        assertFalse(Files.exists(out.resolve("broken_normals.npy")));
    }

    @Test
    void missingModelFolderIsOneClearError(@TempDir Path tmp) {
        Result r = run("depth", "--model", tmp.resolve("nope").toString(), "-o", tmp.toString(), input("case1_80x60"));
        assertEquals(1, r.code());
        assertTrue(r.err().contains("nope"), r.err());
    }

    @Test
    void unknownFormatIsAUsageError(@TempDir Path tmp) {
        Result r = run("depth", "--model", model(), "--format", "jpg", "-o", tmp.toString(), input("case1_80x60"));
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("jpg"), r.err());
    }

    @Test
    void infoPrintsComponentsAndParameterCounts() {
        PrintStream oldOut = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true));
        int code;
        try {
            code = Main.run("info", "--model", model());
        } finally {
            System.setOut(oldOut);
        }
        assertEquals(0, code);
        String s = out.toString();
        assertTrue(s.contains("unet") && s.contains("vae") && s.contains("text_encoder"), s);
        assertTrue(s.contains("parameters"), s);
    }
}
