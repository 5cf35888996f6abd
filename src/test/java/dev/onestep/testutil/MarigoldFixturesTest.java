package dev.onestep.testutil;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The diffusers Marigold goldens are all here after unpacking, as the shared README lists them. */
class MarigoldFixturesTest {
    @Test
    void everyCaseOfTheReadmeIsUnpackedWithItsPrediction() {
        assertEquals(List.of("depth_lcm_s1", "depth_lcm_s4", "depth_v10_s4", "depth_v11_defaults", "depth_v11_s1", "depth_v11_s1_native",
                "depth_v11_s1_up", "depth_v11_s4", "depth_v11_s4_e3", "normals_v11_s1", "normals_v11_s4", "normals_v11_s4_e3"),
                MarigoldFixtures.cases());
        for (String c : MarigoldFixtures.cases()) {
            assertTrue(Files.isRegularFile(MarigoldFixtures.caseDir(c).resolve("meta.json")), c);
            assertTrue(MarigoldFixtures.floats(c, "prediction.npy").length > 0, c);
        }
    }

    @Test
    void theFlavoursShareTheTinyModelAndTheZeroSnrTableEndsAtZero() throws Exception {
        for (String f : List.of("depth-v1-1", "normals-v1-1", "depth-lcm-v1-0", "depth-v1-0"))
            for (String part : List.of("unet", "vae", "text_encoder"))
                assertEquals(-1, Files.mismatch(MarigoldFixtures.model(f).resolve(part).resolve("config.json"),
                        Fixtures.model().resolve(part).resolve("config.json")), f + "/" + part);
        float[] zeroSnr = MarigoldFixtures.table("alphas_cumprod_zero_snr.npy");
        assertEquals(1000, zeroSnr.length);
        assertEquals(0f, zeroSnr[999]);
        assertEquals(0.999149978f, zeroSnr[0], 1e-9f);
    }
}
