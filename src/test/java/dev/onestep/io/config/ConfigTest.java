package dev.onestep.io.config;

import dev.onestep.io.WeightsException;
import dev.onestep.testutil.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** Typed configs: the tiny fixture and full-size SD2 configs read as expected; defaults and errors name file and key. */
class ConfigTest {
    @TempDir
    Path tmp;

    static Path sd2(String file) {
        try {
            return Path.of(ConfigTest.class.getResource("/configs/sd2/" + file).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private Path write(String json) throws IOException {
        return Files.writeString(tmp.resolve("config.json"), json);
    }

    private static void rejects(Runnable r, String... parts) {
        WeightsException e = assertThrows(WeightsException.class, r::run);
        for (String part : parts) assertTrue(e.getMessage().contains(part), () -> "message '" + e.getMessage() + "' lacks '" + part + "'");
    }

    @Test
    void sd2UNet() {
        UNetConfig c = UNetConfig.load(sd2("unet/config.json"));
        assertArrayEquals(new int[] {320, 640, 1280, 1280}, c.blockOutChannels());
        assertArrayEquals(new int[] {5, 10, 20, 20}, c.headsPerBlock());
        assertArrayEquals(new int[] {2, 2, 2, 2}, c.layersPerBlock());
        assertArrayEquals(new int[] {1, 1, 1, 1}, c.transformerLayersPerBlock(), "default 1 per block");
        assertNull(c.numAttentionHeads());
        assertEquals(8, c.inChannels());
        assertEquals(4, c.outChannels());
        assertEquals(1024, c.crossAttentionDim());
        assertEquals(32, c.normNumGroups());
        assertTrue(c.useLinearProjection());
        assertEquals("UNetMidBlock2DCrossAttn", c.midBlockType(), "default mid block");
        assertEquals(1280, c.timeEmbedDim(), "4 × 320");
        assertEquals(3, c.convInKernel());
        assertEquals("default", c.resnetTimeScaleShift());
        assertEquals(List.of("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"), c.upBlockTypes());
    }

    @Test
    void tinyUNet() {
        UNetConfig c = UNetConfig.load(Fixtures.model().resolve("unet/config.json"));
        assertArrayEquals(new int[] {32, 64, 64, 64}, c.blockOutChannels());
        assertArrayEquals(new int[] {2, 4, 4, 4}, c.headsPerBlock());
        assertEquals(8, c.normNumGroups());
        assertTrue(c.upcastAttention());
        assertTrue(c.flipSinToCos());
        assertEquals(0, c.freqShift());
        assertEquals(128, c.timeEmbedDim());
        assertEquals(1e-5, c.normEps());
        assertEquals(32, c.crossAttentionDim());
    }

    @Test
    void vaeConfigs() {
        VaeConfig sd2 = VaeConfig.load(sd2("vae/config.json"));
        assertArrayEquals(new int[] {128, 256, 512, 512}, sd2.blockOutChannels());
        assertEquals(0.18215, sd2.scalingFactor());
        assertNull(sd2.shiftFactor());
        assertTrue(sd2.useQuantConv() && sd2.usePostQuantConv() && sd2.midBlockAddAttention(), "defaults");
        VaeConfig tiny = VaeConfig.load(Fixtures.model().resolve("vae/config.json"));
        assertArrayEquals(new int[] {16, 32, 32, 32}, tiny.blockOutChannels());
        assertEquals(8, tiny.normNumGroups());
        assertEquals(2, tiny.layersPerBlock());
        assertEquals(4, tiny.latentChannels());
    }

    @Test
    void clipConfigs() {
        ClipTextConfig sd2 = ClipTextConfig.load(sd2("text_encoder/config.json"));
        assertEquals(1024, sd2.hiddenSize());
        assertEquals(23, sd2.numHiddenLayers());
        assertEquals(16, sd2.numAttentionHeads());
        assertEquals(64, sd2.headDim());
        assertEquals("gelu", sd2.hiddenAct());
        ClipTextConfig tiny = ClipTextConfig.load(Fixtures.model().resolve("text_encoder/config.json"));
        assertEquals(32, tiny.hiddenSize());
        assertEquals(64, tiny.intermediateSize());
        assertEquals(2, tiny.numHiddenLayers());
        assertEquals(49408, tiny.vocabSize());
        assertEquals(1e-5, tiny.layerNormEps());
        assertEquals(0, tiny.bosTokenId());
    }

    @Test
    void clipDefaultsFollowTransformers() throws IOException {
        ClipTextConfig c = ClipTextConfig.load(write("{\"vocab_size\": 10, \"hidden_size\": 8, \"intermediate_size\": 16, \"num_hidden_layers\": 1, \"num_attention_heads\": 2}"));
        assertEquals("quick_gelu", c.hiddenAct(), "CLIPTextConfig's default activation");
        assertEquals(77, c.maxPositionEmbeddings());
        assertEquals(49406, c.bosTokenId());
        ClipTextConfig nested = ClipTextConfig.load(write("{\"text_config\": {\"vocab_size\": 10, \"hidden_size\": 8, \"intermediate_size\": 16, \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"hidden_act\": \"gelu\"}}"));
        assertEquals("gelu", nested.hiddenAct());
        Path p = write("{\"vocab_size\": 10, \"hidden_size\": 8, \"intermediate_size\": 16, \"num_hidden_layers\": 1, \"num_attention_heads\": 3, \"hidden_act\": \"relu\"}");
        rejects(() -> ClipTextConfig.load(p), p.toString(), "not divisible by num_attention_heads 3", "hidden_act relu");
    }

    @Test
    void schedulerConfigs() throws IOException {
        SchedulerConfig sd2 = SchedulerConfig.load(sd2("scheduler/scheduler_config.json"));
        assertEquals("DDIMScheduler", sd2.className());
        assertEquals("scaled_linear", sd2.betaSchedule());
        assertEquals(0.00085, sd2.betaStart());
        assertEquals(0.012, sd2.betaEnd());
        assertEquals("v_prediction", sd2.predictionType());
        assertFalse(sd2.setAlphaToOne());
        assertEquals(1, sd2.stepsOffset());
        assertEquals("trailing", sd2.timestepSpacing());
        assertNull(sd2.trainedBetas());
        assertFalse(sd2.clipSample());
        SchedulerConfig tiny = SchedulerConfig.load(Fixtures.model().resolve("scheduler/scheduler_config.json"));
        assertEquals(1000, tiny.numTrainTimesteps());
        assertFalse(tiny.thresholding());
        assertFalse(tiny.rescaleBetasZeroSnr());

        SchedulerConfig d = SchedulerConfig.load(write("{}"));
        assertEquals(1000, d.numTrainTimesteps());
        assertEquals(0.0001, d.betaStart());
        assertEquals(0.02, d.betaEnd());
        assertEquals("linear", d.betaSchedule());
        assertEquals("epsilon", d.predictionType());
        assertTrue(d.setAlphaToOne());
        assertEquals(0, d.stepsOffset());
        assertEquals("leading", d.timestepSpacing());
        assertTrue(d.clipSample());
        assertEquals(1.0, d.clipSampleRange());

        SchedulerConfig tb = SchedulerConfig.load(write("{\"num_train_timesteps\": 3, \"trained_betas\": [0.1, 0.2, 0.3]}"));
        assertArrayEquals(new double[] {0.1, 0.2, 0.3}, tb.trainedBetas());
        Path bad = write("{\"num_train_timesteps\": 3, \"trained_betas\": [0.1], \"prediction_type\": \"flow\", \"timestep_spacing\": \"odd\"}");
        rejects(() -> SchedulerConfig.load(bad), bad.toString(), "trained_betas has 1 values but num_train_timesteps is 3",
                "prediction_type flow", "timestep_spacing odd");
        Path badSched = write("{\"beta_schedule\": \"sigmoid\"}");
        rejects(() -> SchedulerConfig.load(badSched), "beta_schedule sigmoid");
    }

    @Test
    void modelIndex() throws IOException {
        ModelIndex tiny = ModelIndex.load(Fixtures.model().resolve("model_index.json"));
        assertEquals("MarigoldPipeline", tiny.className());
        assertEquals(List.of("scheduler", "text_encoder", "unet", "vae"), List.copyOf(tiny.components().keySet()));
        assertEquals(List.of("diffusers", "UNet2DConditionModel"), tiny.components().get("unet"));
        Path p = Files.writeString(tmp.resolve("model_index.json"),
                "{\"_class_name\": \"StableDiffusionPipeline\", \"requires_safety_checker\": false, \"safety_checker\": [null, null], \"vae\": [\"diffusers\", \"AutoencoderKL\"]}");
        ModelIndex sd = ModelIndex.load(p);
        assertEquals(2, sd.components().size());
        assertFalse(sd.has("safety_checker"));
        assertTrue(sd.has("vae"));
        assertEquals("AutoencoderKL", sd.classOf("vae"));
    }

    // ---- errors

    private static final String UNET_MIN = "\"in_channels\": 4, \"out_channels\": 4, \"block_out_channels\": [32, 64], \"layers_per_block\": 1, "
            + "\"cross_attention_dim\": 16, \"down_block_types\": [\"CrossAttnDownBlock2D\", \"DownBlock2D\"], "
            + "\"up_block_types\": [\"UpBlock2D\", \"CrossAttnUpBlock2D\"]";

    @Test
    void minimalUNetUsesDiffusersDefaults() throws IOException {
        UNetConfig c = UNetConfig.load(write("{" + UNET_MIN + "}"));
        assertArrayEquals(new int[] {8, 8}, c.headsPerBlock(), "attention_head_dim defaults to 8");
        assertArrayEquals(new int[] {1, 1}, c.layersPerBlock(), "an int repeats per block");
        assertEquals(32, c.normNumGroups());
        assertEquals("silu", c.actFn());
        assertEquals(1, c.downsamplePadding());
        assertTrue(c.flipSinToCos());
        assertFalse(c.useLinearProjection());
        assertEquals(1.0, c.midBlockScaleFactor());
        UNetConfig lists = UNetConfig.load(write("{" + UNET_MIN.replace("\"layers_per_block\": 1", "\"layers_per_block\": [1, 2]")
                + ", \"num_attention_heads\": [2, 4], \"transformer_layers_per_block\": [1, 2], \"norm_num_groups\": 16}"));
        assertArrayEquals(new int[] {1, 2}, lists.layersPerBlock());
        assertArrayEquals(new int[] {2, 4}, lists.headsPerBlock(), "num_attention_heads wins when set");
        assertArrayEquals(new int[] {1, 2}, lists.transformerLayersPerBlock());
    }

    @Test
    void missingKey() throws IOException {
        Path p = write("{" + UNET_MIN.replace("\"in_channels\": 4, ", "") + "}");
        rejects(() -> UNetConfig.load(p), p + ": missing key 'in_channels'");
        Path v = write("{\"in_channels\": 3}");
        rejects(() -> VaeConfig.load(v), v + ": missing key 'out_channels'");
        Path n = write("{" + UNET_MIN.replace("\"cross_attention_dim\": 16", "\"cross_attention_dim\": null") + "}");
        rejects(() -> UNetConfig.load(n), n + ": key 'cross_attention_dim' is null but is required");
    }

    @Test
    void wrongType() throws IOException {
        Path p = write("{" + UNET_MIN.replace("[32, 64]", "\"32, 64\"") + "}");
        rejects(() -> UNetConfig.load(p), p + ": key 'block_out_channels' should be an integer list, got a string \"32, 64\"");
        Path q = write("{" + UNET_MIN.replace("[32, 64]", "[32, 64.0]") + "}");
        rejects(() -> UNetConfig.load(q), "key 'block_out_channels' should be an integer list, got a number 64.0 at index 1");
        Path r = write("{" + UNET_MIN + ", \"use_linear_projection\": \"yes\"}");
        rejects(() -> UNetConfig.load(r), "key 'use_linear_projection' should be true or false, got a string \"yes\"");
        Path s = write("{" + UNET_MIN.replace("\"in_channels\": 4", "\"in_channels\": 4.5") + "}");
        rejects(() -> UNetConfig.load(s), "key 'in_channels' should be an integer, got a number 4.5");
        Path t = write("{" + UNET_MIN.replace("\"layers_per_block\": 1", "\"layers_per_block\": \"2\"") + "}");
        rejects(() -> UNetConfig.load(t), "key 'layers_per_block' should be an integer or an integer list");
        Path u = write("[1]");
        rejects(() -> UNetConfig.load(u), u + ": expected a JSON object");
        Path w = write("{\"in_channels\": 4,}");
        rejects(() -> UNetConfig.load(w), w + ": not valid JSON");
        Path missing = tmp.resolve("nope.json");
        rejects(() -> UNetConfig.load(missing), missing + ": file not found");
    }

    @Test
    void unsupportedUNetFeatures() throws IOException {
        Path p = write("{" + UNET_MIN + ", \"norm_num_groups\": 16, \"class_embed_type\": \"timestep\", \"resnet_time_scale_shift\": \"scale_shift\","
                + " \"dual_cross_attention\": true, \"time_embedding_type\": \"fourier\", \"act_fn\": \"gelu\", \"attention_head_dim\": [2, 4, 8],"
                + " \"attention_type\": \"gated\", \"addition_embed_type\": \"text_time\"}");
        UNetConfig parsed = UNetConfig.fromJson(dev.onestep.io.JsonFields.read(p).map(), p); // parsing alone succeeds
        assertEquals("timestep", parsed.classEmbedType());
        rejects(() -> UNetConfig.load(p), p + ": unsupported UNet configuration", "class_embed_type timestep",
                "resnet_time_scale_shift scale_shift", "dual_cross_attention", "time_embedding_type fourier", "act_fn gelu",
                "attention_head_dim has 3 entries but block_out_channels has 2", "attention_type = gated", "addition_embed_type text_time");
        Path q = write("{" + UNET_MIN.replace("\"DownBlock2D\"]", "\"AttnDownBlock2D\"]") + ", \"mid_block_type\": null, \"norm_num_groups\": 16}");
        rejects(() -> UNetConfig.load(q), "down block type AttnDownBlock2D", "mid_block_type null");
        Path r = write("{" + UNET_MIN + ", \"norm_num_groups\": 24, \"attention_head_dim\": 3}");
        rejects(() -> UNetConfig.load(r), "block_out_channels[0] = 32 is not divisible by norm_num_groups 24",
                "block_out_channels[1] = 64 is not divisible by 3 heads");
    }

    @Test
    void unsupportedVae() throws IOException {
        Path p = write("{\"in_channels\": 3, \"out_channels\": 3, \"latent_channels\": 4, \"block_out_channels\": [32, 64], \"layers_per_block\": 1,"
                + " \"norm_num_groups\": 32, \"down_block_types\": [\"DownEncoderBlock2D\"], \"up_block_types\": [\"UpDecoderBlock2D\", \"AttnUpDecoderBlock2D\"]}");
        rejects(() -> VaeConfig.load(p), p + ": unsupported VAE configuration", "down_block_types has 1 entries but block_out_channels has 2",
                "up block type AttnUpDecoderBlock2D");
    }

    @Test
    void fromJsonAcceptsAMap() {
        Map<String, Object> m = dev.onestep.io.Json.parseObject("{" + UNET_MIN + ", \"norm_num_groups\": 16}");
        assertEquals(4, UNetConfig.fromJson(m, Path.of("x/config.json")).validate().inChannels());
    }
}
