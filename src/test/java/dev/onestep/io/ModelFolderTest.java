package dev.onestep.io;

import dev.onestep.testutil.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** ModelFolder: configs, variant selection and fallbacks, tokenizer ids, and the errors for broken folders. */
class ModelFolderTest {
    private static final Path MODEL = Fixtures.model();

    @TempDir
    Path tmp;

    /** Hard-links (or copies) the named fixture files into a temp model folder; hard links keep JUnit's cleanup quiet. */
    private Path folder(String... files) throws IOException {
        Path dir = tmp.resolve("model");
        for (String f : files) {
            Path to = dir.resolve(f);
            Files.createDirectories(to.getParent());
            try {
                Files.createLink(to, MODEL.resolve(f));
            } catch (UnsupportedOperationException | IOException e) {
                Files.copy(MODEL.resolve(f), to);
            }
        }
        Files.createDirectories(dir);
        return dir;
    }

    private static void rejects(Runnable r, String... parts) {
        WeightsException e = assertThrows(WeightsException.class, r::run);
        for (String part : parts) assertTrue(e.getMessage().contains(part), () -> "message '" + e.getMessage() + "' lacks '" + part + "'");
    }

    @Test
    void fixtureFolder() {
        ModelFolder m = ModelFolder.open(MODEL, null);
        assertEquals("MarigoldPipeline", m.index().className());
        assertArrayEquals(new int[] {2, 4, 4, 4}, m.unet().headsPerBlock());
        assertEquals(0.18215, m.vae().scalingFactor());
        assertEquals(32, m.textEncoder().hiddenSize());
        assertEquals("trailing", m.scheduler().timestepSpacing());
        assertSame(m.unet(), m.unet(), "configs are read once");
        assertEquals(MODEL.resolve("unet/diffusion_pytorch_model.safetensors"), m.weightsPath("unet"));
        assertEquals(MODEL.resolve("text_encoder/model.safetensors"), m.weightsPath("text_encoder"));
        assertArrayEquals(new int[] {49406, 49407}, m.emptyPromptTokenIds(), "no tokenizer folder: CLIP's ids");
        assertEquals(List.of(), m.warnings());
        try (WeightSource u = m.openWeights("unet"); WeightSource v = m.openWeights("vae"); WeightSource t = m.openWeights("text_encoder")) {
            assertEquals(684, u.keys().size());
            assertEquals(244, v.keys().size());
            assertEquals(36, t.keys().size());
        }
        String d = m.describe();
        assertTrue(d.contains("pipeline: MarigoldPipeline") && d.contains("heads [2, 4, 4, 4]") && d.contains("empty prompt = [49406, 49407]"), d);
        assertFalse(d.contains("ERROR") || d.contains("UNSUPPORTED"), d);
    }

    @Test
    void variantPresent() {
        ModelFolder m = ModelFolder.open(MODEL, "fp16");
        assertEquals(MODEL.resolve("unet/diffusion_pytorch_model.fp16.safetensors"), m.weightsPath("unet"));
        assertEquals(MODEL.resolve("text_encoder/model.fp16.safetensors"), m.weightsPath("text_encoder"));
        assertEquals(List.of(), m.warnings());
        ModelFolder b = ModelFolder.open(MODEL, "bf16");
        assertEquals(MODEL.resolve("unet/diffusion_pytorch_model.bf16.safetensors"), b.weightsPath("unet"));
        try (WeightSource w = b.openWeights("unet")) {
            assertEquals(dev.onestep.tensor.DType.BF16, w.info("conv_in.weight").dtype());
        }
    }

    @Test
    void variantAbsentFallsBackToFp32WithAWarning() {
        ModelFolder b = ModelFolder.open(MODEL, "bf16");
        assertEquals(MODEL.resolve("vae/diffusion_pytorch_model.safetensors"), b.weightsPath("vae"), "the VAE has no bf16 file");
        b.weightsPath("vae"); // asked twice, warned once
        assertEquals(1, b.warnings().size());
        String w = b.warnings().getFirst();
        assertTrue(w.contains("vae: no bf16 weights (diffusion_pytorch_model.bf16.safetensors)") && w.contains("using diffusion_pytorch_model.safetensors"), w);
    }

    @Test
    void onlyVariantPresent() throws IOException {
        Path dir = folder("model_index.json", "unet/config.json", "unet/diffusion_pytorch_model.fp16.safetensors", "unet/diffusion_pytorch_model.bf16.safetensors",
                "text_encoder/config.json", "text_encoder/model.fp16.safetensors");
        ModelFolder m = ModelFolder.open(dir, null);
        assertEquals(dir.resolve("unet/diffusion_pytorch_model.fp16.safetensors"), m.weightsPath("unet"), "fp16 preferred over bf16");
        assertEquals(dir.resolve("text_encoder/model.fp16.safetensors"), m.weightsPath("text_encoder"));
        assertEquals(2, m.warnings().size());
        assertTrue(m.warnings().getFirst().contains("unet: no fp32 weights"), m.warnings().toString());
        Path bfOnly = tmp.resolve("bf");
        Files.createDirectories(bfOnly.resolve("unet"));
        Files.copy(MODEL.resolve("unet/diffusion_pytorch_model.bf16.safetensors"), bfOnly.resolve("unet/diffusion_pytorch_model.bf16.safetensors"));
        assertEquals(bfOnly.resolve("unet/diffusion_pytorch_model.bf16.safetensors"), ModelFolder.open(bfOnly, null).weightsPath("unet"));
        ModelFolder asked = ModelFolder.open(bfOnly, "fp16");
        assertEquals(bfOnly.resolve("unet/diffusion_pytorch_model.bf16.safetensors"), asked.weightsPath("unet"), "asked fp16, only bf16: use it, warn");
        assertTrue(asked.warnings().getFirst().contains("no fp16 weights"));
    }

    @Test
    void bareFolderWithoutModelIndex() throws IOException {
        Path dir = folder("unet/config.json", "unet/diffusion_pytorch_model.safetensors");
        ModelFolder m = ModelFolder.open(dir, null);
        assertNull(m.index());
        assertEquals(8, m.unet().inChannels());
        rejects(m::vae, dir + ": no vae/ folder");
        assertTrue(m.describe().contains("vae: ERROR"), m.describe());
    }

    @Test
    void shardedWeights() throws IOException {
        Path unet = Files.createDirectories(tmp.resolve("m/unet"));
        Files.writeString(tmp.resolve("m/model_index.json"), "{\"_class_name\": \"X\", \"unet\": [\"diffusers\", \"UNet2DConditionModel\"]}");
        new SafetensorsWriter().add("a", "F32", SafetensorsWriter.shape(1), SafetensorsWriter.f32(1)).write(unet.resolve("diffusion_pytorch_model.fp16-00001-of-00001.safetensors"));
        Files.writeString(unet.resolve("diffusion_pytorch_model.safetensors.index.fp16.json"),
                "{\"weight_map\": {\"a\": \"diffusion_pytorch_model.fp16-00001-of-00001.safetensors\"}}");
        ModelFolder m = ModelFolder.open(tmp.resolve("m"), "fp16");
        assertEquals(unet.resolve("diffusion_pytorch_model.safetensors.index.fp16.json"), m.weightsPath("unet"));
        try (WeightSource w = m.openWeights("unet")) {
            assertEquals(1f, w.tensor("a").getFloat(0));
        }
    }

    @Test
    void brokenFolders() throws IOException {
        Path missing = tmp.resolve("nothing");
        rejects(() -> ModelFolder.open(missing, null), missing + ": model folder does not exist");
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        rejects(() -> ModelFolder.open(empty, null), "not a diffusers model folder: no model_index.json, unet/ or vae/ in " + empty);
        Path file = Files.writeString(tmp.resolve("file"), "x");
        rejects(() -> ModelFolder.open(file, null), file + ": not a folder");
        rejects(() -> ModelFolder.open(MODEL, "../x"), "invalid weights variant '../x'");

        Path dir = folder("model_index.json", "unet/config.json", "vae/diffusion_pytorch_model.safetensors");
        ModelFolder m = ModelFolder.open(dir, null);
        rejects(() -> m.weightsPath("unet"), dir.resolve("unet") + ": no weights found: expected diffusion_pytorch_model.safetensors");
        rejects(m::vae, dir.resolve("vae") + ": missing config.json");
        rejects(m::textEncoder, dir + ": no text_encoder/ folder (model_index.json lists it as CLIPTextModel)");
        rejects(m::scheduler, dir + ": no scheduler/ folder");
        Files.writeString(dir.resolve("unet/diffusion_pytorch_model.bin"), "x");
        rejects(() -> m.weightsPath("unet"), "only PyTorch .bin/.ckpt files are present");
    }

    @Test
    void tokenizerIds() throws IOException {
        Path dir = folder("model_index.json", "unet/config.json");
        Path tok = Files.createDirectories(dir.resolve("tokenizer"));
        Files.writeString(tok.resolve("vocab.json"), "{\"!\": 0, \"<|startoftext|>\": 7, \"<|endoftext|>\": 8}");
        assertArrayEquals(new int[] {7, 8}, ModelFolder.open(dir, null).emptyPromptTokenIds());
        Files.writeString(tok.resolve("vocab.json"), "{\"!\": 0}");
        rejects(() -> ModelFolder.open(dir, null).emptyPromptTokenIds(), tok.resolve("vocab.json") + ": no '<|startoftext|>' entry");
        Files.delete(tok.resolve("vocab.json"));
        Files.writeString(tok.resolve("tokenizer.json"), "{\"added_tokens\": [{\"id\": 11, \"content\": \"<|startoftext|>\"}, {\"id\": 12, \"content\": \"<|endoftext|>\"}], \"model\": {\"vocab\": {}}}");
        assertArrayEquals(new int[] {11, 12}, ModelFolder.open(dir, null).emptyPromptTokenIds());
        Files.delete(tok.resolve("tokenizer.json"));
        ModelFolder m = ModelFolder.open(dir, null);
        assertArrayEquals(new int[] {49406, 49407}, m.emptyPromptTokenIds());
        assertTrue(m.warnings().getFirst().contains("neither vocab.json nor tokenizer.json"), m.warnings().toString());
    }
}
