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
 * What tools/gpu-check.sh runs under compute-sanitizer: memcheck over the fixture networks end to end once per
 * compute dtype, every backend closed at the end so leak checking sees a clean exit; racecheck (far slower) over
 * {@link #sharedMemoryKernelsRunCleanly}, every kernel variant that shares memory between threads, on small shapes with
 * partial tiles. Outputs are not compared here (CudaModelFixtureTest and CudaBackendOpsTest do that); this only has to
 * run without a sanitizer report. Skipped without a GPU.
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

    /**
     * Attention (CUDA-core dv64/dv512 in fp32; in fp16/bf16 every register-fragment kernel, fa64/96/128 and
     * fa512_64/_80, and the tensor-core tc64/tc512; each plain and causal, with a partial last query block and key tile) and the norms (group-norm statistics, layer norm) once per dtype.
     */
    @Test
    void sharedMemoryKernelsRunCleanly() {
        CudaTestSupport.assumeGpu();
        java.util.Random r = new java.util.Random(11);
        for (DType dt : new DType[] {DType.F32, DType.F16, DType.BF16}) {
            try (CudaBackend b = new CudaBackend(dt)) {
                // d = 64: attention_fa64/96/128; 512: attention_fa512_64/_80; 40: attention_tc64; 128: attention_tc512
                for (int[] hd : new int[][] {{5, 64}, {1, 512}, {2, 40}, {1, 128}}) {
                    int heads = hd[0], d = hd[1];
                    int[] heights = dt == DType.F32 ? new int[] {0} : d == 64 ? new int[] {64, 96, 128} : d == 512 ? new int[] {64, 80} : new int[] {0};
                    for (int rows : heights) {
                        if (rows != 0 && d == 64) b.faRows(rows);
                        if (rows != 0 && d == 512) b.fa512Rows(rows);
                        for (boolean causal : new boolean[] {false, true})
                            try (Tensor q = up(b, CudaTestSupport.gaussian(r, 1, 0, 1, 77, heads * d));
                                 Tensor k = up(b, CudaTestSupport.gaussian(r, 1, 0, 1, 77, heads * d));
                                 Tensor v = up(b, CudaTestSupport.gaussian(r, 1, 0, 1, 77, heads * d));
                                 Tensor o = b.attention(q, k, v, heads, (float) (1 / Math.sqrt(d)), causal)) {
                                b.synchronize();
                            }
                    }
                }
                try (Tensor x = up(b, CudaTestSupport.gaussian(r, 1, 0.5f, 1, 9, 11, 64));
                     Tensor g = param(b, CudaTestSupport.uniform(r, 0.5f, 1.5f, 64));
                     Tensor be = param(b, CudaTestSupport.uniform(r, -0.5f, 0.5f, 64));
                     Tensor y = b.groupNorm(x, 32, g, be, 1e-5f, true);
                     Tensor l = b.layerNorm(x, g, be, 1e-5f)) {
                    b.synchronize();
                }
            }
        }
    }

    private static Tensor up(CudaBackend b, Tensor host) {
        try (host) {
            return b.upload(host);
        }
    }

    private static Tensor param(CudaBackend b, Tensor host) {
        try (host) {
            return b.prepareParameter(host);
        }
    }
}
