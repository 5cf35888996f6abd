package dev.onestep.model;

import dev.onestep.backend.Backend;
import dev.onestep.backend.cpu.CpuBackend;
import dev.onestep.io.ModelFolder;
import dev.onestep.io.WeightSource;
import dev.onestep.model.clip.CLIPTextModel;
import dev.onestep.model.unet.UNet2DConditionModel;
import dev.onestep.model.vae.AutoencoderKL;
import dev.onestep.tensor.DType;
import dev.onestep.tensor.Tensor;
import dev.onestep.testutil.Compare;
import dev.onestep.testutil.FixtureTensors;
import dev.onestep.testutil.Fixtures;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The fp16 / bf16 weight files (same tensors as fp32, values rounded; no goldens exist for them, fixtures
 * README) computed in fp32 against the fp32 goldens.
 *
 * <p>Bounds: rounding a weight to fp16 changes it by ≤ 2⁻¹¹ ≈ 4.9e-4 relative, to bf16 by ≤ 2⁻⁸ ≈ 3.9e-3. Through
 * a network these errors add up over its layers, so a stage's error is bounded relative to the stage's own scale
 * (its max |value|) by 20 units of weight rounding: fp16 20·2⁻¹¹ ≈ 9.8e-3, bf16 20·2⁻⁸ ≈ 7.8e-2. Measured on
 * case 1 (printed by the test): the worst stages are the fp16 VAE decoder at ≈ 7.7 units (3.8e-3) and the UNet
 * at ≈ 4 units (fp16 2.0e-3, bf16 1.4e-2), so the bound leaves ≈ 2.5× headroom for other models and images.
 * That the widening itself is exact is tested per op (CpuBackendOpsTest); this is the end-to-end sanity bound. The tests also assert the variant files were
 * really used (stored dtype) so a silent fp32 fallback cannot pass.
 */
class HalfPrecisionWeightsTest {
    static float[] nchw(Backend b, Tensor t) { return FixtureTensors.nchw(b, t); }

    static Tensor input(Backend b, String c, String file) { return FixtureTensors.upload(b, c, file); }

    static void assertRelative(String what, float[] expected, float[] actual, double relBound) {
        double scale = 0;
        for (float e : expected) scale = Math.max(scale, Math.abs(e));
        double diff = Compare.maxAbsDiff(expected, actual);
        System.out.printf("%s: max |diff| %.3e, scale %.3e, relative %.3e (bound %.1e)%n", what, diff, scale, diff / scale, relBound);
        Compare.assertClose(what, expected, actual, relBound * scale);
    }

    @ParameterizedTest
    @CsvSource({"fp16, F16, 9.8e-3", "bf16, BF16, 7.8e-2"})
    void variantWeightsStayCloseToTheFp32Reference(String variant, String dtype, double bound) {
        String c = "case1_80x60";
        ModelFolder folder = ModelFolder.open(Fixtures.model(), variant);
        try (Backend b = new CpuBackend();
             WeightSource uw = folder.openWeights("unet");
             WeightSource vw = folder.openWeights("vae");
             WeightSource tw = folder.openWeights("text_encoder")) {
            assertEquals(DType.valueOf(dtype), uw.info("conv_in.weight").dtype(), "UNet weights come from the " + variant + " file");
            try (UNet2DConditionModel unet = UNet2DConditionModel.load(folder.unet(), uw, b);
                 AutoencoderKL vae = AutoencoderKL.load(folder.vae(), vw, b);
                 CLIPTextModel text = CLIPTextModel.load(folder.textEncoder(), tw, b)) {
                try (Tensor e = text.forward(folder.emptyPromptTokenIds(), ActivationHook.NONE)) {
                    assertRelative(variant + " text_embedding", Fixtures.floats(c, "text_embedding.npy"), nchw(b, e), bound);
                }
                try (Tensor x = input(b, c, "rgb_norm.npy"); Tensor m = vae.encodeMean(x, ActivationHook.NONE)) {
                    assertRelative(variant + " vae_enc_mean", Fixtures.floats(c, "vae_enc_mean.npy"), nchw(b, m), bound);
                }
                try (Tensor x = input(b, c, "unet_input.npy"); Tensor ctx = input(b, c, "text_embedding.npy");
                     Tensor v = unet.forward(x, 999f, ctx, ActivationHook.NONE)) {
                    assertRelative(variant + " unet_output", Fixtures.floats(c, "unet_output.npy"), nchw(b, v), bound);
                }
                try (Tensor z = input(b, c, "vae_dec_input_unscaled.npy"); Tensor out = vae.decode(z, ActivationHook.NONE)) {
                    assertRelative(variant + " vae_dec_output", Fixtures.floats(c, "vae_dec_output.npy"), nchw(b, out), bound);
                }
            }
        }
        if (variant.equals("bf16"))
            assertTrue(folder.warnings().stream().anyMatch(w -> w.contains("bf16")), "bf16 exists only for the UNet: the fallback is reported " + folder.warnings());
    }
}
