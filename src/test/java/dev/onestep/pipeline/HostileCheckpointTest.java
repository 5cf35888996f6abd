package dev.onestep.pipeline;

import dev.onestep.DepthMap;
import dev.onestep.OneStep;
import dev.onestep.io.SafetensorsFile;
import dev.onestep.io.WeightsException;
import dev.onestep.testutil.Fixtures;
import dev.onestep.testutil.ModelCopy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Checkpoints from a stranger: absurd configs, configs that disagree with their weights, non-finite weights and a
 * weights file that changes under the mapping. Each must end in one error naming the problem, in bounded time and
 * memory — never a hang, an OutOfMemoryError, or a NaN map reported as a result.
 */
class HostileCheckpointTest {
    @TempDir
    Path tmp;

    private static OneStep.Options cpu() { return OneStep.Options.defaults().withDevice("cpu").withProcessingRes(64); }

    private static String load(Path dir, OneStep.Options o) {
        WeightsException e = assertThrows(WeightsException.class, () -> OneStep.load(dir, o).close());
        assertTrue(!e.getMessage().contains("\n") || e.getMessage().contains("weights do not match"), e.getMessage());
        return e.getMessage();
    }

    /** Values that once ran out of heap, hung for minutes, overflowed, or gave NaN maps as a success. */
    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "unet|layers_per_block|1000000000|layers_per_block[0] = 1000000000 is larger than",
            "unet|transformer_layers_per_block|1000000000|transformer_layers_per_block[0] = 1000000000 is larger than",
            "unet|block_out_channels|[2147483647, 64, 64, 64]|block_out_channels[0] = 2147483647 is larger than",
            "unet|downsample_padding|1000000000|downsample_padding = 1000000000 should be in [0, 2]",
            "unet|mid_block_scale_factor|0|mid_block_scale_factor = 0.0 should be a number in",
            "unet|norm_eps|NaN|norm_eps",
            "unet|conv_in_kernel|1000001|conv_in_kernel 1000001 should be a positive odd number up to 31",
            "vae|scaling_factor|1e300|scaling_factor = 1.0E300 should be a number in",
            "vae|layers_per_block|1000000000|layers_per_block = 1000000000 is larger than",
            "text_encoder|num_hidden_layers|1000000000|num_hidden_layers = 1000000000 is larger than",
            "text_encoder|max_position_embeddings|2147483647|max_position_embeddings = 2147483647 is larger than",
            "scheduler|num_train_timesteps|2147483647|num_train_timesteps = 2147483647 is larger than",
            "scheduler|steps_offset|2147483647|steps_offset = 2147483647 should be in",
    })
    @Timeout(30)
    void absurdConfigValuesAreRefusedByName(String component, String key, String value, String expected) throws IOException {
        ModelCopy m = ModelCopy.of(tmp).config(component, key, value.equals("NaN") ? "1e999" : value);
        String msg = load(m.dir(), cpu());
        assertTrue(msg.contains(expected) && msg.contains(component), msg);
    }

    @Test
    @Timeout(30)
    void layerCountsMustMatchTheWeightsBeforeAnythingIsBuilt() throws IOException {
        String unet = load(ModelCopy.of(tmp.resolve("u")).config("unet", "layers_per_block", "3").dir(), cpu());
        assertTrue(unet.contains("UNet config does not match its weights' layer counts")
                && unet.contains("down_blocks.0.resnets: the config implies 3, the weights have 2"), unet);
        String clip = load(ModelCopy.of(tmp.resolve("c")).config("text_encoder", "num_hidden_layers", "200").dir(), cpu());
        assertTrue(clip.contains("text_model.encoder.layers: the config implies 200, the weights have 2"), clip);
        String vae = load(ModelCopy.of(tmp.resolve("v")).config("vae", "layers_per_block", "1").dir(), cpu());
        assertTrue(vae.contains("encoder.down_blocks.0.resnets: the config implies 1, the weights have"), vae);
    }

    @Test
    void nonFiniteWeightsAreRefusedAtLoadByTensorName() throws IOException {
        ModelCopy nan = ModelCopy.of(tmp.resolve("n")).poison("vae", "decoder.conv_out.bias", Float.NaN);
        String msg = load(nan.dir(), cpu());
        assertTrue(msg.contains("non-finite weights") && msg.contains("decoder.conv_out.bias (1 NaN of 3 values)")
                && msg.contains("--no-weight-check"), msg);
        ModelCopy inf = ModelCopy.of(tmp.resolve("i")).poison("unet", "conv_in.weight", Float.NEGATIVE_INFINITY);
        msg = load(inf.dir(), cpu());
        assertTrue(msg.contains("conv_in.weight (1 Inf of"), msg);
    }

    @Test
    void aStageThatGoesNonFiniteFailsThePredictionNamingTheStage() throws IOException {
        var image = Fixtures.inputImage("case1_80x60");
        var bi = new java.awt.image.BufferedImage(image.width(), image.height(), java.awt.image.BufferedImage.TYPE_INT_RGB);
        ModelCopy nan = ModelCopy.of(tmp.resolve("n")).poison("vae", "decoder.conv_out.bias", Float.NaN);
        try (OneStep model = OneStep.load(nan.dir(), cpu().withWeightCheck(false))) {
            NonFiniteException e = assertThrows(NonFiniteException.class, () -> model.predictDepth(bi));
            assertEquals("VAE decoder", e.stage(), e.getMessage());
            assertTrue(e.getMessage().contains("non-finite values (NaN/Inf)"), e.getMessage());
        }
        ModelCopy inf = ModelCopy.of(tmp.resolve("i")).poison("unet", "conv_in.weight", Float.POSITIVE_INFINITY);
        try (OneStep model = OneStep.load(inf.dir(), cpu().withWeightCheck(false))) {
            assertEquals("UNet", assertThrows(NonFiniteException.class, () -> model.predictDepth(bi)).stage());
        }
        ModelCopy enc = ModelCopy.of(tmp.resolve("e")).poison("vae", "encoder.conv_in.bias", Float.NaN);
        try (OneStep model = OneStep.load(enc.dir(), cpu().withWeightCheck(false))) {
            assertEquals("VAE encoder", assertThrows(NonFiniteException.class, () -> model.predictNormals(bi)).stage());
        }
        try (OneStep model = OneStep.load(Fixtures.model(), cpu())) {
            DepthMap d = model.predictDepth(bi); // the unpoisoned model passes every check
            assertEquals(image.width() * image.height(), d.data().length);
        }
    }

    @Test
    void aWeightsFileTruncatedWhileItIsReadIsNamed() throws IOException {
        Path f = ModelCopy.of(tmp).weights("vae");
        try (SafetensorsFile st = SafetensorsFile.open(f)) {
            try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
                raf.setLength(4096); // the mapping stays the old size; pages past the end now fault
            }
            WeightsException e = assertThrows(WeightsException.class,
                    () -> OneStepPipeline.loading(st, true, w -> {}, w -> null));
            assertTrue(e.getMessage().startsWith(f.toString()) && e.getMessage().contains("changed or was truncated while it was being read"),
                    e.getMessage());
        }
    }

    @Test
    void anAbsurdProcessingResolutionIsRefusedByTheOptionsAndTheLargestAllowedOneByTheBudget() {
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> cpu().withProcessingRes(Integer.MAX_VALUE));
        assertTrue(bad.getMessage().contains("processingRes must be 0 (native) or 1..65536, got 2147483647"), bad.getMessage());
        var bi = new java.awt.image.BufferedImage(80, 60, java.awt.image.BufferedImage.TYPE_INT_RGB);
        try (OneStep model = OneStep.load(Fixtures.model(), cpu().withProcessingRes(65536).withMaxMemory(1L << 30))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> model.predictDepth(bi));
            assertTrue(e.getMessage().contains("(65536×49152) needs") && e.getMessage().contains("for activations"), e.getMessage());
        }
    }

    @Test
    @Timeout(60)
    void weightsAndConfigsThatAreNotRegularFilesAreRefusedWithoutBlocking() throws Exception {
        ModelCopy m = ModelCopy.of(tmp);
        Path weights = m.weights("unet");
        java.nio.file.Files.delete(weights);
        org.junit.jupiter.api.Assumptions.assumeTrue(new ProcessBuilder("mkfifo", weights.toString()).start().waitFor() == 0, "no mkfifo");
        String msg = load(m.dir(), cpu());
        assertTrue(msg.contains(weights.toString()) && msg.contains("not a regular file"), msg);

        ModelCopy c = ModelCopy.of(tmp.resolve("c"));
        Path config = c.dir().resolve("vae/config.json");
        try (RandomAccessFile raf = new RandomAccessFile(config.toFile(), "rw")) {
            raf.setLength(dev.onestep.io.JsonFields.MAX_FILE_BYTES + 1); // sparse: no blocks written
        }
        msg = load(c.dir(), cpu());
        assertTrue(msg.contains(config.toString()) && msg.contains("-byte limit"), msg);
    }
}
