package dev.onestep.testutil;

import dev.onestep.backend.Backend;
import dev.onestep.tensor.Layouts;
import dev.onestep.tensor.Tensor;

import java.nio.file.Files;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Moving fixture tensors (NCHW on disk) to and from a backend (channels-last), and checking recorded activations. */
public final class FixtureTensors {
    private FixtureTensors() {}

    /** A fixture tensor of a case uploaded to the backend, 4-D ones as [N, H, W, C]. */
    public static Tensor upload(Backend b, String caseName, String file) {
        try (Tensor nchw = Tensor.of(Fixtures.floats(caseName, file), Fixtures.shape(caseName, file));
             Tensor host = nchw.rank() == 4 ? Layouts.toNhwc(nchw) : nchw.toF32()) {
            return b.upload(host);
        }
    }

    /** A backend tensor as host floats in the fixtures' NCHW layout. */
    public static float[] nchw(Backend b, Tensor t) {
        try (Tensor host = b.download(t); Tensor n = Layouts.toNchw(host)) {
            return n.toFloatArray();
        }
    }

    /**
     * Every recorded activation that has a golden twin under activations/{dir}/ matches it in shape and within
     * atol + rtol·|e|; exactly {@code expectedCount} of them were compared (so a renamed hook cannot pass silently).
     */
    public static void assertActivations(String label, String caseName, String dir, RecordingHook hook, int expectedCount,
                                         double atol, double rtol) {
        int checked = 0;
        for (Map.Entry<String, float[]> e : hook.values.entrySet()) {
            String file = "activations/" + dir + "/" + e.getKey() + ".npy";
            if (!Files.exists(Fixtures.caseDir(caseName).resolve(file))) continue;
            Compare.assertShape(caseName + " " + file, Fixtures.shape(caseName, file), hook.shapes.get(e.getKey()));
            Compare.assertClose(caseName + " " + label + file, Fixtures.floats(caseName, file), e.getValue(), atol, rtol);
            checked++;
        }
        assertEquals(expectedCount, checked, caseName + ": activations compared in " + dir);
    }
}
