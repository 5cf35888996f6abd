package dev.onestep.model;

import dev.onestep.backend.Backend;
import dev.onestep.backend.cpu.CpuBackend;
import dev.onestep.backend.cpu.ReferenceBackend;
import dev.onestep.io.JsonFields;
import dev.onestep.io.config.UNetConfig;
import dev.onestep.io.config.VaeConfig;
import dev.onestep.model.unet.UNet2DConditionModel;
import dev.onestep.model.vae.AutoencoderKL;
import dev.onestep.tensor.DType;
import dev.onestep.tensor.Tensor;
import dev.onestep.testutil.Compare;
import dev.onestep.testutil.Fixtures;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * The networks are driven by config.json: variants of the tiny config that the fixtures do not cover (conv
 * projections, several transformer layers, one layer per block, an int attention_head_dim, odd latent sizes)
 * must build with synthetic weights and give the same output on the fast CPU backend as on the scalar
 * reference backend (same wiring, two independent op implementations; 1e-4 abs + 1e-4 rel as the fixtures).
 */
class ConfigVariantsTest {

    static Map<String, Object> tinyUnet() {
        return new LinkedHashMap<>(JsonFields.readObject(Fixtures.model().resolve("unet/config.json")));
    }

    static UNetConfig variant(String which) {
        Map<String, Object> m = tinyUnet();
        switch (which) {
            case "fixture" -> { }
            case "conv-projection" -> m.put("use_linear_projection", false);
            case "two-transformer-layers" -> m.put("transformer_layers_per_block", 2L);
            case "one-layer-per-block" -> m.put("layers_per_block", 1L);
            case "int-head-dim" -> m.put("attention_head_dim", 4L);
            case "three-blocks" -> {
                m.put("block_out_channels", new ArrayList<>(List.of(16L, 32L, 32L)));
                m.put("down_block_types", new ArrayList<>(List.of("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D")));
                m.put("up_block_types", new ArrayList<>(List.of("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D")));
                m.put("attention_head_dim", new ArrayList<>(List.of(2L, 4L, 4L)));
            }
            default -> throw new IllegalArgumentException(which);
        }
        return UNetConfig.fromJson(m, Path.of("variant-" + which + ".json")).validate();
    }

    static float[] runUnet(Backend b, UNetConfig c, int h, int w) {
        try (UNet2DConditionModel unet = UNet2DConditionModel.build(c, WeightResolver.synthetic(b, 11, DType.F32))) {
            float[] in = new float[h * w * c.inChannels()];
            java.util.SplittableRandom r = new java.util.SplittableRandom(3);
            for (int i = 0; i < in.length; i++) in[i] = (float) r.nextGaussian();
            float[] ctx = new float[2 * c.crossAttentionDim()];
            for (int i = 0; i < ctx.length; i++) ctx[i] = (float) r.nextGaussian();
            try (Tensor hi = Tensor.of(in, 1, h, w, c.inChannels()); Tensor hc = Tensor.of(ctx, 1, 2, c.crossAttentionDim());
                 Tensor x = b.upload(hi); Tensor cx = b.upload(hc);
                 Tensor v = unet.forward(x, 999f, cx, ActivationHook.NONE); Tensor out = b.download(v)) {
                assertArrayEquals(new int[]{1, h, w, c.outChannels()}, v.shape());
                return out.toFloatArray();
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"fixture", "conv-projection", "two-transformer-layers", "one-layer-per-block", "int-head-dim", "three-blocks"})
    void unetVariantMatchesTheReferenceBackendOnOddLatents(String which) {
        UNetConfig c = variant(which);
        try (Backend fast = new CpuBackend(); Backend ref = new ReferenceBackend()) {
            for (int[] hw : new int[][]{{5, 7}, {1, 1}, {9, 4}}) {
                float[] a = runUnet(fast, c, hw[0], hw[1]);
                float[] e = runUnet(ref, c, hw[0], hw[1]);
                Compare.assertClose(which + " " + hw[0] + "×" + hw[1], e, a, 1e-4, 1e-4);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 3})
    void vaeVariantRoundTripsOddImagesOnBothBackends(int layersPerBlock) {
        Map<String, Object> m = new LinkedHashMap<>(JsonFields.readObject(Fixtures.model().resolve("vae/config.json")));
        m.put("layers_per_block", (long) layersPerBlock);
        VaeConfig c = VaeConfig.fromJson(m, Path.of("vae-variant.json")).validate();
        float[][] outs = new float[2][];
        int i = 0;
        for (Backend b : new Backend[]{new CpuBackend(), new ReferenceBackend()}) {
            try (b; AutoencoderKL vae = AutoencoderKL.build(c, WeightResolver.synthetic(b, 5, DType.F32))) {
                float[] img = new float[37 * 21 * 3];
                java.util.SplittableRandom r = new java.util.SplittableRandom(9);
                for (int k = 0; k < img.length; k++) img[k] = (float) (r.nextDouble() * 2 - 1);
                try (Tensor hi = Tensor.of(img, 1, 37, 21, 3); Tensor x = b.upload(hi);
                     Tensor mean = vae.encodeMean(x, ActivationHook.NONE); Tensor dec = vae.decode(mean, ActivationHook.NONE);
                     Tensor out = b.download(dec)) {
                    // pad bottom/right then 3×3 stride 2: n → ⌊(n + 1 − 3)/2⌋ + 1, so 37 → 18 → 9 → 4 and
                    // 21 → 10 → 5 → 2; the decoder is 8× the latent
                    assertArrayEquals(new int[]{1, 4, 2, 4}, mean.shape());
                    assertArrayEquals(new int[]{1, 32, 16, 3}, dec.shape());
                    outs[i++] = out.toFloatArray();
                }
            }
        }
        Compare.assertClose("vae layers_per_block=" + layersPerBlock, outs[1], outs[0], 1e-4, 1e-4);
    }
}
