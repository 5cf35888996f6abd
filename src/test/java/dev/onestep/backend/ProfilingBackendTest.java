package dev.onestep.backend;

import dev.onestep.backend.cpu.ReferenceBackend;
import dev.onestep.tensor.Tensor;
import dev.onestep.testutil.Compare;
import dev.onestep.testutil.RandomTensors;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** ProfilingBackend: results unchanged, one entry per op and shape while recording, nothing outside, the table's text. */
class ProfilingBackendTest {

    @Test
    void recordsEachOpByShapeOnlyWhileRecordingAndChangesNoResult() {
        Random r = new Random(3);
        ReferenceBackend ref = new ReferenceBackend();
        try (ProfilingBackend p = new ProfilingBackend(new ReferenceBackend());
             Tensor x = RandomTensors.uniform(r, -1, 1, 1, 6, 7, 5);
             Tensor w = RandomTensors.uniform(r, -0.3f, 0.3f, 4, 5, 3, 3);
             Tensor bias = RandomTensors.uniform(r, -1, 1, 4)) {
            Conv2dWeights cw = p.prepareConv2d(w, bias), rw = ref.prepareConv2d(w, bias);
            try (Tensor before = p.conv2d(x, cw, 1, Padding.same(1))) { // not recording yet
                assertTrue(p.table().isEmpty(), "an op outside a recording was timed: " + p.table());
            }
            p.recording(true);
            try (Tensor y1 = p.conv2d(x, cw, 1, Padding.same(1)); Tensor y2 = p.conv2d(x, cw, 1, Padding.same(1));
                 Tensor s = p.silu(y1); Tensor g = p.groupNorm(y2, 2, Tensor.of(new float[] {1, 1, 1, 1}, 4), Tensor.of(new float[4], 4), 1e-5f, true);
                 Tensor want = ref.conv2d(x, rw, 1, Padding.same(1))) {
                p.synchronize();
                Compare.assertClose("conv2d through the profiler", want.toFloatArray(), y1.toFloatArray(), 0);
            }
            p.recording(false);
            try (Tensor after = p.silu(x)) {
                Map<String, double[]> t = p.table();
                assertEquals(3, t.size(), String.valueOf(t.keySet()));
                assertEquals(2, t.get("conv2d k3 s1 1x6x7x5→4")[0]);
                assertEquals(1, t.get("silu 1x6x7x4")[0]);
                assertEquals(1, t.get("groupNorm+silu 1x6x7x4")[0]);
                for (double[] v : t.values()) assertTrue(v[1] >= 0, "negative time");
                String text = ProfilingBackend.format(t, 2, 2);
                assertTrue(text.startsWith("op time, ") && text.contains("(2 op calls per pass)"), text);
                assertTrue(text.contains("conv2d\n"), text);
                String top = text.substring(text.indexOf("op and shape (the 2 costliest)"));
                assertEquals(3, top.lines().count(), "a header and the 2 costliest keys: " + text);
                // which two are costliest depends on the machine's load (these ops take microseconds): all three keys
                String all = ProfilingBackend.format(t, 2, 3);
                assertTrue(all.contains("  conv2d k3 s1 1x6x7x5→4\n") && all.contains("  silu 1x6x7x4\n")
                        && all.contains("  groupNorm+silu 1x6x7x4\n"), all);
            }
            p.clear();
            assertTrue(p.table().isEmpty());
        }
    }
}
