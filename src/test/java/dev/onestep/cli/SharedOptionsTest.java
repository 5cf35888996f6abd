package dev.onestep.cli;

import dev.onestep.testutil.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The options `depth`, `normals`, `marigold` and `eval` share through mixins: same names and defaults, own wording. */
class SharedOptionsTest {
    @Test
    void marigoldAndEvalTakeDtype(@TempDir Path tmp) {
        Path out = tmp.resolve("out");
        MarigoldEvalCliTest.Result r = MarigoldEvalCliTest.run("marigold", "--model", Fixtures.model().toString(), "--device", "cpu",
                "--dtype", "bf16", "--steps", "1", "--ensemble", "1", "--processing-res", "64", "--format", "npy",
                "-o", out.toString(), MarigoldEvalCliTest.input());
        assertEquals(0, r.code(), r.err());
        String note = "note: --dtype bf16 applies to the CUDA backend; the cpu backend computes in fp32";
        assertTrue(r.err().contains(note), r.err());
        assertEquals(r.err().indexOf(note), r.err().lastIndexOf(note), "one note per setting: " + r.err());
        assertTrue(r.err().lines().noneMatch(l -> l.contains("fp32") && !l.equals(note) && l.startsWith("note")), r.err());
        assertTrue(Files.exists(out.resolve("input_depth.npy")));
        for (String cmd : new String[]{"depth", "marigold"}) {
            MarigoldEvalCliTest.Result bad = MarigoldEvalCliTest.run(cmd, "--model", Fixtures.model().toString(), "--dtype", "fp8",
                    "-o", out.toString(), MarigoldEvalCliTest.input());
            assertEquals(2, bad.code(), cmd + ": " + bad.err());
            assertTrue(bad.err().contains("--dtype") && bad.err().contains("fp8"), bad.err());
        }
        MarigoldEvalCliTest.Result bad = MarigoldEvalCliTest.run("eval", "--model", Fixtures.model().toString(), "--dataset", tmp.toString(),
                "--dtype", "fp8");
        assertEquals(2, bad.code(), bad.err());
    }

    @Test
    void helpKeepsEachCommandsWording() {
        String depth = MarigoldEvalCliTest.run("depth", "--help").out();
        String marigold = MarigoldEvalCliTest.run("marigold", "--help").out();
        String eval = MarigoldEvalCliTest.run("eval", "--help").out();
        for (String h : new String[]{depth, marigold, eval})
            assertTrue(h.contains("--dtype=fp32|bf16|fp16") && h.contains("compute precision (default: fp32)") && h.contains("--offline"), h);
        assertTrue(depth.contains("ignore EXIF orientation (the reference pipeline") && depth.contains("resize filter, both ways"), depth);
        assertTrue(depth.contains("80% of physical memory"), depth);
        assertTrue(marigold.contains("ignore EXIF orientation (the reference ignores it)") && marigold.contains("per-step latents")
                && marigold.contains("longest side for inference; 0 = native (default:") && marigold.contains("768"), marigold);
        assertTrue(eval.contains("--device=auto|cpu|cuda (default: auto)") && eval.contains("(default: 0)"), eval);
    }
}
