package dev.onestep.pipeline;

import dev.onestep.Task;
import dev.onestep.backend.Backend;
import dev.onestep.backend.cpu.CpuBackend;
import dev.onestep.image.ImageLoader;
import dev.onestep.image.Resize;
import dev.onestep.image.RgbImage;
import dev.onestep.io.ModelFolder;
import dev.onestep.io.Npy;
import dev.onestep.testutil.Compare;
import dev.onestep.testutil.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The multi-step pipeline against the ddim4_leading / ddim4_trailing goldens of case1_80x60 (4 DDIM steps, the
 * reference's torch.randn noise given explicitly): every step's UNet input/output, x0 and prev_sample, and the
 * E2E-FT (x0) and original-Marigold (prev) finals. Tolerances as the fixtures README: latents 1e-4, depth 1e-4,
 * normals 1e-3.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MarigoldPipelineFixtureTest {
    static final String CASE = "case1_80x60";
    static final int RES = 64;
    Backend backend;
    OneStepPipeline stages;
    MarigoldPipeline pipeline;

    @BeforeAll
    void load() {
        backend = new CpuBackend();
        stages = OneStepPipeline.load(ModelFolder.open(Fixtures.model(), null), backend);
        pipeline = new MarigoldPipeline(stages);
    }

    @AfterAll
    void close() {
        stages.close();
        backend.close();
    }

    static RgbImage input() throws IOException {
        return ImageLoader.load(Fixtures.caseDir(CASE).resolve("input.png"), false);
    }

    MarigoldPipeline.Options options(String kind) {
        return MarigoldPipeline.Options.of(4, 1, DdimScheduler.Spacing.parse(kind), RES)
                .withNoise(Fixtures.floats(CASE, "ddim4_" + kind + "/init_noise.npy"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"leading", "trailing"})
    void everyStepAndTheE2eFtDepthMatch(String kind, @TempDir Path dump) throws IOException {
        MarigoldPipeline.Result r = pipeline.predict(input(), Task.DEPTH, options(kind), new DumpHook(backend, dump));
        assertNull(r.uncertainty(), "no uncertainty for one member");
        String dir = "ddim4_" + kind + "/";
        double worstLatent = 0;
        for (int i = 0; i < 4; i++) {
            for (String name : new String[]{"unet_input_step", "unet_output_step", "x0_step", "prev_sample_step"}) {
                float[] expected = Fixtures.floats(CASE, dir + name + i + ".npy");
                float[] actual = Npy.readFloats(dump.resolve(name + i + ".npy"));
                Compare.assertShape(kind + " " + name + i, Fixtures.shape(CASE, dir + name + i + ".npy"), Npy.shape(dump.resolve(name + i + ".npy")));
                Compare.assertClose(kind + " " + name + i, expected, actual, 1e-4);
                worstLatent = Math.max(worstLatent, Compare.maxAbsDiff(expected, actual));
            }
        }
        Compare.assertClose(kind + " e2eft_vae_dec_output", Fixtures.floats(CASE, dir + "e2eft_vae_dec_output.npy"),
                Npy.readFloats(dump.resolve("vae_dec_output.npy")), 1e-4);
        float[] expected = Fixtures.floats(CASE, dir + "e2eft_depth_final.npy");
        Compare.assertClose(kind + " e2eft_depth_final", expected, r.prediction().data(), 1e-4);
        System.out.printf("ddim4_%s: per-step latents max |diff| %.2e, e2eft_depth_final %.2e%n", kind, worstLatent,
                Compare.maxAbsDiff(expected, r.prediction().data()));
    }

    @ParameterizedTest
    @ValueSource(strings = {"leading", "trailing"})
    void originalMarigoldFinalDecodesPrevSample(String kind) throws IOException {
        MarigoldPipeline.Result r = pipeline.predict(input(), Task.DEPTH,
                options(kind).withFinal(MarigoldPipeline.FinalLatent.PREV), null);
        float[] expected = Fixtures.floats(CASE, "ddim4_" + kind + "/marigold_depth_final.npy");
        Compare.assertClose(kind + " marigold_depth_final", expected, r.prediction().data(), 1e-4);
        System.out.printf("ddim4_%s: marigold_depth_final %.2e%n", kind, Compare.maxAbsDiff(expected, r.prediction().data()));
    }

    @ParameterizedTest
    @ValueSource(strings = {"leading", "trailing"})
    void normalsFinals(String kind) throws IOException {
        for (MarigoldPipeline.FinalLatent f : MarigoldPipeline.FinalLatent.values()) {
            MarigoldPipeline.Result r = pipeline.predict(input(), Task.NORMALS, options(kind).withFinal(f), null);
            String name = (f == MarigoldPipeline.FinalLatent.X0 ? "e2eft" : "marigold") + "_normal_final.npy";
            float[] expected = Fixtures.floats(CASE, "ddim4_" + kind + "/" + name);
            Compare.assertClose(kind + " " + name, expected, r.prediction().data(), 1e-3);
            System.out.printf("ddim4_%s: %s %.2e%n", kind, name, Compare.maxAbsDiff(expected, r.prediction().data()));
        }
    }

    @Test
    void oneTrailingStepFromZerosIsTheOneStepPipeline() throws IOException {
        RgbImage img = input();
        Prediction one = stages.predict(img, Task.DEPTH, RES, Resize.Mode.BILINEAR, null);
        MarigoldPipeline.Result multi = pipeline.predict(img, Task.DEPTH,
                MarigoldPipeline.Options.of(1, 1, DdimScheduler.Spacing.TRAILING, RES).withInit(MarigoldPipeline.Init.ZEROS), null);
        // not 0: two identical one-step runs of the CPU backend already differ by ~3e-6 (run-to-run float noise)
        Compare.assertClose("1-step trailing zeros vs one-step", one.data(), multi.prediction().data(), 1e-5);
    }

    @Test
    void seededEnsembleIsReproducibleAndHasUncertainty() throws IOException {
        RgbImage img = input();
        MarigoldPipeline.Options o = MarigoldPipeline.Options.of(2, 3, DdimScheduler.Spacing.TRAILING, RES).withSeed(7);
        MarigoldPipeline.Result a = pipeline.predict(img, Task.DEPTH, o, null);
        MarigoldPipeline.Result b = pipeline.predict(img, Task.DEPTH, o, null);
        Compare.assertClose("same seed, same depth", a.prediction().data(), b.prediction().data(), 1e-4); // backend float noise only
        assertNotNull(a.uncertainty());
        assertEquals(80 * 60, a.uncertainty().length);
        for (float u : a.uncertainty()) assertTrue(u >= 0 && Float.isFinite(u));
        MarigoldPipeline.Result c = pipeline.predict(img, Task.DEPTH, o.withSeed(8), null);
        assertTrue(Compare.maxAbsDiff(a.prediction().data(), c.prediction().data()) > 0, "another seed, another result");
        MarigoldPipeline.Result n = pipeline.predict(img, Task.NORMALS, o, null);
        assertNotNull(n.uncertainty());
        assertEquals(3 * 80 * 60, n.prediction().data().length);
    }

    @Test
    void wrongNoiseShapeIsAClearError() throws IOException {
        RgbImage img = input();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> pipeline.predict(img, Task.DEPTH,
                MarigoldPipeline.Options.of(2, 1, DdimScheduler.Spacing.TRAILING, RES).withNoise(new float[10]), null));
        assertTrue(e.getMessage().contains("[1, 4, 6, 8]"), e.getMessage());
    }
}
