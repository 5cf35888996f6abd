package dev.onestep.io;

import dev.onestep.tensor.DType;
import dev.onestep.testutil.Fixtures;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** The golden tiny-sd2 checkpoints open, with the expected tensor counts, dtypes and consistent values across variants. */
class FixtureWeightsTest {
    private static final Path MODEL = Fixtures.model();

    private static void check(String file, int count, DType dtype) {
        try (SafetensorsFile st = SafetensorsFile.open(MODEL.resolve(file))) {
            assertEquals(count, st.keys().size(), file);
            for (String k : st.keys()) assertEquals(dtype, st.info(k).dtype(), file + " " + k);
            assertEquals(Map.of("format", "pt"), st.metadata());
        }
    }

    @Test
    void tensorCountsAndDtypes() {
        // The three counts exclude __metadata__ (684/244/36 tensors).
        check("unet/diffusion_pytorch_model.safetensors", 684, DType.F32);
        check("unet/diffusion_pytorch_model.fp16.safetensors", 684, DType.F16);
        check("unet/diffusion_pytorch_model.bf16.safetensors", 684, DType.BF16);
        check("vae/diffusion_pytorch_model.safetensors", 244, DType.F32);
        check("vae/diffusion_pytorch_model.fp16.safetensors", 244, DType.F16);
        check("text_encoder/model.safetensors", 36, DType.F32);
        check("text_encoder/model.fp16.safetensors", 36, DType.F16);
    }

    @Test
    void variantsHoldTheSameTensorsRounded() {
        try (SafetensorsFile f32 = SafetensorsFile.open(MODEL.resolve("unet/diffusion_pytorch_model.safetensors"));
             SafetensorsFile f16 = SafetensorsFile.open(MODEL.resolve("unet/diffusion_pytorch_model.fp16.safetensors"));
             SafetensorsFile bf16 = SafetensorsFile.open(MODEL.resolve("unet/diffusion_pytorch_model.bf16.safetensors"))) {
            assertEquals(f32.keys(), f16.keys());
            assertEquals(f32.keys(), bf16.keys());
            String name = "conv_in.weight";
            assertArrayEquals(new int[] {32, 8, 3, 3}, f32.info(name).shape());
            float[] ref = f32.tensor(name).toFloatArray();
            float[] half = f16.tensor(name).toFloatArray();
            float[] brain = bf16.tensor(name).toFloatArray();
            for (int i = 0; i < ref.length; i++) {
                assertEquals(Float.float16ToFloat(Float.floatToFloat16(ref[i])), half[i], "fp16 rounding of " + name + "[" + i + "]");
                assertEquals(DType.bf16ToF32(DType.f32ToBf16(ref[i])), brain[i], "bf16 rounding of " + name + "[" + i + "]");
            }
        }
    }
}
