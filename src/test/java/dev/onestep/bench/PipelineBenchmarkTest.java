package dev.onestep.bench;

import dev.onestep.backend.cpu.CpuBackend;
import dev.onestep.io.config.UNetConfig;
import dev.onestep.io.config.VaeConfig;
import dev.onestep.testutil.Fixtures;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The bench harness on the tiny fixture configs (the full SD2 size is the CLI's job, too slow for a test): every stage
 * timed with its FLOPs, and with profiling, the op table of the whole pass's timed iterations only.
 */
class PipelineBenchmarkTest {

    @Test
    void timesEveryStageAndProfilesTheWholePass() {
        UNetConfig u = UNetConfig.load(Fixtures.model().resolve("unet/config.json"));
        VaeConfig v = VaeConfig.load(Fixtures.model().resolve("vae/config.json"));
        try (CpuBackend cpu = new CpuBackend(); PipelineBenchmark plain = new PipelineBenchmark(cpu, u, v, 40, 56, 5)) {
            assertNull(plain.profile(2, 10), "no table without profiling");
        }
        try (CpuBackend cpu = new CpuBackend(); PipelineBenchmark b = new PipelineBenchmark(cpu, u, v, 40, 56, 5, true)) {
            Map<String, PipelineBenchmark.Stage> stages = b.run(1, 2, s -> {});
            assertEquals(List.of("vae_encode", "unet", "vae_decode", "total"), List.copyOf(stages.keySet()));
            for (PipelineBenchmark.Stage s : stages.values()) assertTrue(s.flops() > 0 && s.medianMs() > 0 && s.minMs() <= s.medianMs(), s.toString());
            long sum = stages.get("vae_encode").flops() + stages.get("unet").flops() + stages.get("vae_decode").flops();
            assertEquals(sum, stages.get("total").flops(), "the whole pass is encode + UNet + decode");
            String table = b.profile(2, 1000);
            assertTrue(table.startsWith("op time, "), table);
            // once per whole pass, so 1.0 call per pass over the 2 recorded passes: the VAE's conv_in on the 40×56 image
            // (3 → 16 channels) and the UNet's conv_in on the 5×7 latent (rgb latent + noise latent: 8 → 32 channels)
            assertEquals("1.0", callsPerPass(table, "conv2d k3 s1 1x40x56x3→16"), table);
            assertEquals("1.0", callsPerPass(table, "conv2d k3 s1 1x5x7x8→32"), table);
            assertEquals(1, table.lines().filter(l -> l.endsWith("  conv2d")).count(), "one per-op row for conv2d: " + table);
        }
    }

    /** N images per pass: every stage's work is N times one image's (each op's FLOPs are linear in the batch). */
    @Test
    void aBatchOfThreeDoesThreeTimesTheWork() {
        UNetConfig u = UNetConfig.load(Fixtures.model().resolve("unet/config.json"));
        VaeConfig v = VaeConfig.load(Fixtures.model().resolve("vae/config.json"));
        try (CpuBackend cpu = new CpuBackend();
             PipelineBenchmark one = new PipelineBenchmark(cpu, u, v, 40, 56, 5);
             PipelineBenchmark three = new PipelineBenchmark(cpu, u, v, 3, 40, 56, 5, false)) {
            Map<String, PipelineBenchmark.Stage> a = one.run(0, 1, s -> {}), b = three.run(0, 1, s -> {});
            for (String stage : a.keySet()) assertEquals(3 * a.get(stage).flops(), b.get(stage).flops(), stage);
            assertEquals(3, three.batch());
        }
    }

    /** The "calls" column of the row whose key is {@code key} (rows: ms/pass, %, calls, two spaces, key). */
    private static String callsPerPass(String table, String key) {
        return table.lines().filter(l -> l.endsWith("  " + key)).map(l -> l.trim().split("\\s+")[2]).findFirst().orElse("no row");
    }
}
