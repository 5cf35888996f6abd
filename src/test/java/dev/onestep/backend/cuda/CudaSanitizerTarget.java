package dev.onestep.backend.cuda;

import dev.onestep.io.ModelFolder;
import dev.onestep.io.WeightSource;
import dev.onestep.model.ActivationHook;
import dev.onestep.model.clip.CLIPTextModel;
import dev.onestep.model.unet.UNet2DConditionModel;
import dev.onestep.model.vae.AutoencoderKL;
import dev.onestep.tensor.DType;
import dev.onestep.tensor.Tensor;
import dev.onestep.testutil.Fixtures;
import org.junit.jupiter.api.Test;

import static dev.onestep.backend.cuda.CudaModelFixtureTest.input;

/**
 * What tools/gpu-check.sh runs under compute-sanitizer (memcheck): the fixture networks end to end once per
 * compute dtype, every backend closed at the end so leak checking sees a clean exit. Outputs are not compared
 * here (CudaModelFixtureTest does that); this only has to run without a memory error. Skipped without a GPU.
 */
class CudaSanitizerTarget {

    @Test
    void fixtureNetworksRunCleanly() {
        CudaTestSupport.assumeGpu();
        ModelFolder folder = ModelFolder.open(Fixtures.model(), null);
        String c = Fixtures.cases().getFirst();
        for (DType dt : new DType[] {DType.F32, DType.F16, DType.BF16}) {
            try (CudaBackend b = new CudaBackend(dt); WeightSource uw = folder.openWeights("unet"); WeightSource vw = folder.openWeights("vae");
                 WeightSource tw = folder.openWeights("text_encoder");
                 UNet2DConditionModel unet = UNet2DConditionModel.load(folder.unet(), uw, b);
                 AutoencoderKL vae = AutoencoderKL.load(folder.vae(), vw, b);
                 CLIPTextModel text = CLIPTextModel.load(folder.textEncoder(), tw, b)) {
                try (Tensor emb = text.forward(folder.emptyPromptTokenIds(), ActivationHook.NONE);
                     Tensor x = input(b, c, "rgb_norm.npy"); Tensor mean = vae.encodeMean(x, ActivationHook.NONE);
                     Tensor lat = input(b, c, "unet_input.npy"); Tensor v = unet.forward(lat, 999f, emb, ActivationHook.NONE);
                     Tensor z = input(b, c, "vae_dec_input_unscaled.npy"); Tensor out = vae.decode(z, ActivationHook.NONE);
                     Tensor host = b.download(out)) {
                    b.synchronize();
                }
            }
        }
    }
}
