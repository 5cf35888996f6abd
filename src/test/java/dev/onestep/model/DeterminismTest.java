package dev.onestep.model;

import dev.onestep.backend.Backend;
import dev.onestep.backend.cpu.CpuBackend;
import dev.onestep.io.ModelFolder;
import dev.onestep.model.unet.UNet2DConditionModel;
import dev.onestep.model.vae.AutoencoderKL;
import dev.onestep.tensor.DType;
import dev.onestep.tensor.Tensor;
import dev.onestep.testutil.Fixtures;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * One deterministic forward pass: the same input gives the same bits on every call, before and after the JIT
 * compiles the kernels (the Vector API's EXP and float ADD reductions are not bit-stable across that, which is
 * why the CPU backend uses VecMath). 25 calls take the kernels through C2 compilation on the tiny model.
 */
class DeterminismTest {
    @Test
    void repeatedForwardPassesAreBitIdentical() {
        ModelFolder folder = ModelFolder.open(Fixtures.model(), null);
        try (Backend b = new CpuBackend();
             UNet2DConditionModel unet = UNet2DConditionModel.build(folder.unet(), WeightResolver.synthetic(b, 42, DType.F16));
             AutoencoderKL vae = AutoencoderKL.build(folder.vae(), WeightResolver.synthetic(b, 43, DType.F16))) {
            float[] first = null;
            for (int run = 0; run < 25; run++) {
                try (Tensor x = b.zeros(1, 5, 8, 8); Tensor ctx = b.zeros(1, 2, 32);
                     Tensor v = unet.forward(x, 999f, ctx, ActivationHook.NONE);
                     Tensor lat = b.sliceChannels(v, 0, 4);
                     Tensor img = vae.decode(lat, ActivationHook.NONE);
                     Tensor host = b.download(img)) {
                    float[] out = host.toFloatArray();
                    if (first == null) first = out;
                    else assertArrayEquals(first, out, "call " + run + " differs from call 0");
                }
            }
        }
    }
}
