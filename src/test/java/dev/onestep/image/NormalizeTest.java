package dev.onestep.image;

import dev.onestep.testutil.Compare;
import dev.onestep.testutil.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

class NormalizeTest {
    static List<String> cases() { return Fixtures.cases(); }

    @ParameterizedTest
    @MethodSource("cases")
    void matchesRgbNormBitForBit(String c) {
        byte[] rgb = ResizeTest.toBytes(Fixtures.floats(c, "rgb_resized_uint8.npy"));
        Compare.assertClose(c + " rgb_norm", Fixtures.floats(c, "rgb_norm.npy"), Normalize.toUnitRange(rgb), 0);
    }

    @Test
    void endpoints() {
        float[] f = Normalize.toUnitRange(new byte[] {0, (byte) 255, (byte) 128});
        assertEquals(-1f, f[0]);
        assertEquals(1f, f[1]);
        assertEquals(128f / 255f * 2f - 1f, f[2]);
    }
}
