package dev.onestep.pipeline;

import dev.onestep.Task;
import dev.onestep.backend.cpu.CpuBackend;
import dev.onestep.image.Resize;
import dev.onestep.image.RgbImage;
import dev.onestep.io.ModelFolder;
import dev.onestep.testutil.FailingBackend;
import dev.onestep.testutil.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every layer's error path releases what it allocated: a prediction whose op number k fails (for every k a pass
 * runs) leaves the backend's live activation memory where it was before the call, and the next prediction is
 * bit-identical to one that never saw a failure.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(300)
class FailureLeakTest {
    /** The smallest processing size the tiny UNet's three down-samplings take (a 4×4 latent): the test runs a pass per op. */
    static final int RES = 32;

    CpuBackend cpu;
    FailingBackend backend;
    OneStepPipeline pipeline;
    RgbImage image;

    @BeforeAll
    void load() {
        cpu = new CpuBackend();
        backend = new FailingBackend(cpu);
        pipeline = OneStepPipeline.load(ModelFolder.open(Fixtures.model(), null), backend);
        image = Fixtures.inputImage(Fixtures.cases().get(0));
    }

    @AfterAll
    void close() {
        pipeline.close();
        cpu.close();
    }

    interface Run { float[] run(); }

    /** Fails each op of {@code run} in turn; returns how many ops one pass has. */
    private int failEveryOp(String what, Run run) {
        backend.reset();
        float[] expected = run.run();
        int ops = backend.count();
        assertTrue(ops > 20, what + ": a pass should run many ops, ran " + ops);
        long live = cpu.liveMemoryBytes();
        List<String> leaks = new ArrayList<>();
        for (int k = 1; k <= ops; k++) {
            backend.failAt(k);
            assertThrows(FailingBackend.Injected.class, run::run, what + ": op " + k);
            long now = cpu.liveMemoryBytes();
            if (now != live) leaks.add("op " + k + ": " + (now - live) + " bytes");
        }
        assertEquals(List.of(), leaks.subList(0, Math.min(8, leaks.size())),
                what + ": live activation memory after a failed pass (before: " + live + " bytes; " + leaks.size() + " of " + ops + " ops leaked)");
        backend.reset();
        assertArrayEquals(expected, run.run(), what + ": the pass after the failures");
        return ops;
    }

    @Test
    void oneStepDepthReleasesEverythingWhereverItFails() {
        failEveryOp("one-step depth", () -> pipeline.predict(image, Task.DEPTH, RES, Resize.Mode.BILINEAR, null).data());
    }


    @Test
    void marigoldEnsembleReleasesEverythingWhereverItFails() {
        MarigoldPipeline marigold = new MarigoldPipeline(pipeline);
        MarigoldPipeline.Options o = MarigoldPipeline.Options.of(2, 1, DdimScheduler.Spacing.TRAILING, RES).withSeed(3);
        failEveryOp("marigold 2 steps", () -> marigold.predict(image, Task.DEPTH, o, null).prediction().data());
    }
}
