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
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The whole one-step pipeline from input.png to the final maps, against the reference (fixtures README
 * tolerances: latents/UNet/decoder 1e-4 abs, depth 1e-4 abs, normals 1e-3 abs, uint8 resize exact).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class OneStepPipelineFixtureTest {
    Backend backend;
    OneStepPipeline pipeline;

    @BeforeAll
    void load() {
        backend = new CpuBackend();
        pipeline = OneStepPipeline.load(ModelFolder.open(Fixtures.model(), null), backend);
    }

    @AfterAll
    void close() {
        pipeline.close();
        backend.close();
    }

    static List<String> cases() { return Fixtures.cases(); }

    static RgbImage input(String c) throws IOException {
        return ImageLoader.load(Fixtures.caseDir(c).resolve("input.png"), false);
    }

    static int processingRes(String c) {
        return 64; // fixtures README: every case uses processing_res 64
    }

    @ParameterizedTest
    @MethodSource("cases")
    void depthMatchesReference(String c, @TempDir Path dump) throws IOException {
        RgbImage img = input(c);
        Prediction p = pipeline.predict(img, Task.DEPTH, processingRes(c), Resize.Mode.BILINEAR, new DumpHook(backend, dump));
        int[] shape = Fixtures.shape(c, "depth_final.npy");
        assertEquals(shape[0], p.height());
        assertEquals(shape[1], p.width());
        Compare.assertClose(c + " depth_final", Fixtures.floats(c, "depth_final.npy"), p.data(), 1e-4);
        // every dumped stage of the same run, against its golden twin
        for (String stage : new String[]{"rgb_norm", "vae_enc_moments", "vae_enc_mean", "rgb_latent", "text_embedding",
                "unet_input", "unet_output", "x0_latent", "vae_dec_input_unscaled", "vae_dec_output"}) {
            Path f = dump.resolve(stage + ".npy");
            Compare.assertShape(c + " " + stage, Fixtures.shape(c, stage + ".npy"), Npy.shape(f));
            Compare.assertClose(c + " dumped " + stage, Fixtures.floats(c, stage + ".npy"), Npy.readFloats(f), 1e-4);
        }
        Compare.assertClose(c + " dumped activations/unet/mid_block", Fixtures.floats(c, "activations/unet/mid_block.npy"),
                Npy.readFloats(dump.resolve("activations/unet/mid_block.npy")), 1e-4, 1e-4);
    }

    @ParameterizedTest
    @MethodSource("cases")
    void normalsMatchReference(String c) throws IOException {
        Prediction p = pipeline.predict(input(c), Task.NORMALS, processingRes(c), Resize.Mode.BILINEAR, null);
        Compare.assertClose(c + " normal_final", Fixtures.floats(c, "normal_final.npy"), p.data(), 1e-3);
    }
}
