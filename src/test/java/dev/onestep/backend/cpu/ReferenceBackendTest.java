package dev.onestep.backend.cpu;

import dev.onestep.backend.Conv2dWeights;
import dev.onestep.backend.LinearWeights;
import dev.onestep.backend.Padding;
import dev.onestep.tensor.Tensor;
import dev.onestep.testutil.Compare;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Closed-form checks of the oracle itself: if these hold, comparing against it means something. */
class ReferenceBackendTest {
    private final ReferenceBackend ref = new ReferenceBackend();

    @Test
    void conv3x3OnesSumsNeighbourhoods() {
        // x: [1, 3, 3, 1] = 1..9; all-ones 3x3 kernel, pad 1, bias 0.5
        Tensor x = Tensor.of(new float[] {1, 2, 3, 4, 5, 6, 7, 8, 9}, 1, 3, 3, 1);
        Conv2dWeights w = ref.prepareConv2d(Tensor.of(new float[] {1, 1, 1, 1, 1, 1, 1, 1, 1}, 1, 1, 3, 3), Tensor.of(new float[] {0.5f}, 1));
        float[] y = ref.conv2d(x, w, 1, Padding.same(1)).toFloatArray();
        float[] expected = {12, 21, 16, 27, 45, 33, 24, 39, 28};
        for (int i = 0; i < 9; i++) expected[i] += 0.5f;
        Compare.assertClose("conv 3x3 ones", expected, y, 0);
    }

    @Test
    void conv3x3Stride2BottomRightPadding() {
        // x: [1, 4, 4, 1] = 0..15; F.pad (0,1,0,1) then 3x3 stride 2 → 2x2; the kernel picks the top-left tap (weight 1) and
        // the bottom-right tap (weight 10)
        float[] xv = new float[16];
        for (int i = 0; i < 16; i++) xv[i] = i;
        float[] kv = new float[9];
        kv[0] = 1;
        kv[8] = 10;
        Conv2dWeights w = ref.prepareConv2d(Tensor.of(kv, 1, 1, 3, 3), null);
        Tensor y = ref.conv2d(Tensor.of(xv, 1, 4, 4, 1), w, 2, Padding.BOTTOM_RIGHT);
        Compare.assertShape("conv stride 2", new int[] {1, 2, 2, 1}, y.shape());
        // out(0,0) = x(0,0) + 10·x(2,2) = 0 + 100; out(0,1) = x(0,2) + 10·x(2,4 → pad) = 2;
        // out(1,0) = x(2,0) + 10·x(4,2 → pad) = 8; out(1,1) = x(2,2) = 10
        Compare.assertClose("conv stride 2 bottom-right", new float[] {100, 2, 8, 10}, y.toFloatArray(), 0);
    }

    @Test
    void linearByHand() {
        LinearWeights w = ref.prepareLinear(Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 3, 2), Tensor.of(new float[] {1, 1, 1}, 3));
        Compare.assertClose("linear", new float[] {6, 12, 18}, ref.linear(Tensor.of(new float[] {1, 2}, 1, 2), w).toFloatArray(), 0);
    }

    @Test
    void geluKnownValues() {
        float[] y = ref.gelu(Tensor.of(new float[] {1, 0, -1, 3}, 4)).toFloatArray();
        Compare.assertClose("gelu", new float[] {(float) 0.8413447460685429, 0, (float) -0.15865525393145707, (float) 2.9959503059051097},
                y, 0, 1e-7);
        assertEquals(0.8427007929497149, CpuMath.erf(1), 1e-15);
        assertEquals(2.209049699858544e-05, CpuMath.erfc(3), 1e-19);
    }

    @Test
    void equalScoresAverageValues() {
        // q = 0 → every score equal → output is the mean of v's rows; causal → query 0 sees only key 0
        Tensor q = ref.zeros(1, 3, 4);
        Tensor k = Tensor.of(new float[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, 1, 3, 4);
        Tensor v = Tensor.of(new float[] {1, 10, 2, 20, 6, 60}, 1, 3, 2);
        float[] y = ref.attention(q, k, v, 1, 0.5f, false).toFloatArray();
        Compare.assertClose("attention mean", new float[] {3, 30, 3, 30, 3, 30}, y, 1e-6);
        float[] c = ref.attention(q, k, v, 1, 0.5f, true).toFloatArray();
        Compare.assertClose("causal attention", new float[] {1, 10, 1.5f, 15, 3, 30}, c, 1e-6);
    }

    @Test
    void upsampleNearest3To5() {
        Tensor x = Tensor.of(new float[] {0, 1, 2}, 1, 1, 3, 1);
        Compare.assertClose("upsample 3→5", new float[] {0, 0, 1, 1, 2}, ref.upsampleNearest(x, 1, 5).toFloatArray(), 0);
        Compare.assertClose("upsample 3→6", new float[] {0, 0, 1, 1, 2, 2}, ref.upsampleNearest(x, 1, 6).toFloatArray(), 0);
    }

    @Test
    void timestepEmbedding() {
        float[] flip = ref.timestepEmbedding(new float[] {0}, 6, true, 0).toFloatArray();
        Compare.assertClose("t=0 flipped", new float[] {1, 1, 1, 0, 0, 0}, flip, 0);
        float[] plain = ref.timestepEmbedding(new float[] {0}, 7, false, 1).toFloatArray();
        Compare.assertClose("t=0 odd dim", new float[] {0, 0, 0, 1, 1, 1, 0}, plain, 0);
        // dim 4, shift 0: freq = [1, exp(−ln(1e4)/2) = 0.01]
        float[] t1 = ref.timestepEmbedding(new float[] {1}, 4, true, 0).toFloatArray();
        Compare.assertClose("t=1", new float[] {(float) Math.cos(1), (float) Math.cos(0.01), (float) Math.sin(1), (float) Math.sin(0.01)}, t1, 1e-7);
    }

    @Test
    void groupAndLayerNormByHand() {
        Tensor x = Tensor.of(new float[] {1, 2, 3, 4}, 1, 2, 2, 1);
        Tensor one = Tensor.of(new float[] {1}, 1), zero = Tensor.of(new float[] {0}, 1);
        double s = Math.sqrt(1.25 + 1e-5);
        float[] e = {(float) (-1.5 / s), (float) (-0.5 / s), (float) (0.5 / s), (float) (1.5 / s)};
        Compare.assertClose("groupNorm", e, ref.groupNorm(x, 1, one, zero, 1e-5f, false).toFloatArray(), 1e-7);
        Tensor row = Tensor.of(new float[] {1, 2, 3, 4}, 1, 4);
        Tensor g = Tensor.of(new float[] {1, 1, 1, 1}, 4), b = Tensor.of(new float[] {0, 0, 0, 0}, 4);
        Compare.assertClose("layerNorm", e, ref.layerNorm(row, g, b, 1e-5f).toFloatArray(), 1e-7);
        float[] silu = ref.groupNorm(x, 1, one, zero, 1e-5f, true).toFloatArray();
        for (int i = 0; i < 4; i++) assertEquals(e[i] / (1 + Math.exp(-e[i])), silu[i], 1e-7);
    }
}
