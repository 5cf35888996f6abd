package dev.onestep.backend.cuda;

import dev.onestep.tensor.DType;

import jcuda.driver.CUresult;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Pure-Java parts of the CUDA plumbing: status names, kernel-image choice, argument packing, pointer conversion. */
class CudaPlumbingTest {

    @Test
    void cublasStatusesHaveTheirHeaderNames() {
        assertEquals("CUBLAS_STATUS_SUCCESS", Cublas.statusName(0));
        assertEquals("CUBLAS_STATUS_NOT_INITIALIZED", Cublas.statusName(1));
        assertEquals("CUBLAS_STATUS_ALLOC_FAILED", Cublas.statusName(3));
        assertEquals("CUBLAS_STATUS_INVALID_VALUE", Cublas.statusName(7));
        assertEquals("CUBLAS_STATUS_ARCH_MISMATCH", Cublas.statusName(8));
        assertEquals("CUBLAS_STATUS_EXECUTION_FAILED", Cublas.statusName(13));
        assertEquals("CUBLAS_STATUS_NOT_SUPPORTED", Cublas.statusName(15));
        assertEquals("CUBLAS_STATUS_UNKNOWN(42)", Cublas.statusName(42));
        CudaException e = org.junit.jupiter.api.Assertions.assertThrows(CudaException.class, () -> Cublas.check("cublasGemmEx(m=1, n=2, k=3)", 7));
        assertEquals("cublasGemmEx(m=1, n=2, k=3) failed: CUBLAS_STATUS_INVALID_VALUE", e.getMessage());
        assertEquals(7, e.status());
    }

    @Test
    void jcudaExceptionMessagesMapBackToDriverCodes() {
        assertEquals(CUresult.CUDA_ERROR_OUT_OF_MEMORY, CudaDriver.codeForName("CUDA_ERROR_OUT_OF_MEMORY"));
        assertEquals(CUresult.CUDA_ERROR_INVALID_VALUE, CudaDriver.codeForName("CUDA_ERROR_INVALID_VALUE"));
        assertEquals(CUresult.CUDA_ERROR_NO_DEVICE, CudaDriver.codeForName("CUDA_ERROR_NO_DEVICE"));
        assertEquals(-1, CudaDriver.codeForName("something else"));
        assertEquals(-1, CudaDriver.codeForName(null));
    }

    @Test
    void cubinMatchesTheComputeCapabilityElsePtx() {
        assertEquals("/kernels/norms.sm_90.cubin.gz", CudaDriver.moduleResource("norms", 9, 0, false));
        assertEquals("/kernels/norms.sm_80.cubin.gz", CudaDriver.moduleResource("norms", 8, 0, false));
        assertEquals("/kernels/norms.sm_80.cubin.gz", CudaDriver.moduleResource("norms", 8, 9, false));
        assertEquals("/kernels/norms.ptx.gz", CudaDriver.moduleResource("norms", 10, 0, false));
        assertEquals("/kernels/norms.ptx.gz", CudaDriver.moduleResource("norms", 9, 0, true));
    }

    @Test
    void kernelArgumentsGetOneEightByteSlotEach() {
        try (KernelArgs a = new KernelArgs()) {
            a.reset().ptr(0x7f00_1234_5678L).i32(-3).f32(1.5f).i64(1L << 40).i32(7);
            assertEquals(5, a.count());
            assertEquals(0x7f00_1234_5678L, a.slotBits(0));
            assertEquals(0xffff_fffdL, a.slotBits(1), "an int fills the low 4 bytes; the rest is zero");
            assertEquals(Float.floatToRawIntBits(1.5f) & 0xffff_ffffL, a.slotBits(2));
            assertEquals(1L << 40, a.slotBits(3));
            a.reset().i32(1);
            assertEquals(1, a.count());
            assertEquals(1, a.slotBits(0), "reset overwrites the slot entirely");
        }
    }

    @Test
    void devicePointersRoundTripThroughJcuda() {
        long address = 0x7f12_3456_7800L;
        assertEquals(address, new CudaDriver.DevicePtr(address).address());
        assertEquals(0, new CudaDriver.DevicePtr().address());
    }

    @Test
    void attentionSharedMemoryFitsTheGpusForTheSd2HeadSizes() {
        assertEquals(4 * (32 * 65 + 32 * 64 + 16 * 64), CudaBackend.attentionSmem(64, 64, 16, 4));
        assertEquals(2 * (32 * 65 + 32 * 64) + 4 * 16 * 64, CudaBackend.attentionSmem(64, 64, 16, 2));
        assertTrue(CudaBackend.attentionSmem(64, 64, 16, 4) <= 48 * 1024, "UNet/CLIP heads need no opt-in");
        assertTrue(CudaBackend.attentionSmem(512, 512, 8, 4) <= 163 * 1024, "VAE mid-block head fits an A100's opt-in limit");
        // sm_86/sm_89 (RTX 30xx/40xx, L4, L40) allow 99 KB per block: the 16-bit CUDA-core fallback must fit there
        assertTrue(CudaBackend.attentionSmem(512, 512, 8, 2) <= 99 * 1024, "16-bit VAE head fits an sm_86/89's opt-in limit");
        // tensor-core kernels (fp16/bf16): the formula in kernels/attention.cu, worked out there for both head sizes
        assertEquals(45_840, CudaBackend.attentionTcSmem(64, 64));
        assertEquals(160_528, CudaBackend.attentionTcSmem(512, 512));
        assertEquals(CudaBackend.attentionTcSmem(48, 48), CudaBackend.attentionTcSmem(33, 33), "head sizes are padded to 16");
        assertTrue(CudaBackend.attentionTcSmem(64, 64) <= 48 * 1024, "UNet/CLIP heads need no opt-in");
        assertTrue(CudaBackend.attentionTcSmem(512, 512) <= 163 * 1024, "VAE mid-block head fits an A100's opt-in limit");
        // register-fragment kernels: (rows + 4·64)·72·2 and 1128·rows + 133,120, worked out in kernels/attention.cu
        assertEquals(46_080, CudaBackend.faSmem(64));
        assertEquals(50_688, CudaBackend.faSmem(96));
        assertEquals(55_296, CudaBackend.faSmem(128));
        assertEquals(205_312, CudaBackend.fa512Smem(64));
        assertEquals(223_360, CudaBackend.fa512Smem(80));
        assertTrue(CudaBackend.fa512Smem(80) <= 232_448, "both attention_fa512 heights fit Hopper's opt-in limit");
    }

    @Test
    void fa512BlockHeightFillsTheSmsInTheFewestRounds() {
        // 768²: 9,216 rows on an H100/H200's 132 SMs: 80 → 116 blocks, one round; 64 → 144 blocks, two rounds
        assertEquals(80, CudaBackend.fa512Rows(9216, 1, 132));
        // 512²: 4,096 rows: 64 → 64 blocks, 80 → 52 blocks, both one round: the lower block wins
        assertEquals(64, CudaBackend.fa512Rows(4096, 1, 132));
        // ties go to 64 (the smaller block, with more SMs to spread over at small sizes)
        assertEquals(64, CudaBackend.fa512Rows(100, 1, 4));
    }

    @Test
    void peakTflopsTableReproducesThePublishedFigures() {
        // A100 SXM: 108 SMs at 1410 MHz, 312 TFLOP/s dense fp16/bf16 and 19.5 TFLOP/s fp32 (NVIDIA A100 datasheet)
        assertEquals(312.0, CudaBackend.flopsPerClockPerSm(8, 0, DType.BF16, false) * 108 * 1.410e9 / 1e12, 0.5);
        assertEquals(19.5, CudaBackend.flopsPerClockPerSm(8, 0, DType.F32, false) * 108 * 1.410e9 / 1e12, 0.1);
        assertEquals(156.0, CudaBackend.flopsPerClockPerSm(8, 0, DType.F32, true) * 108 * 1.410e9 / 1e12, 0.5);
        // H100 SXM: 132 SMs, 989.4 TFLOP/s dense fp16 at 1830 MHz, 66.9 TFLOP/s fp32 at 1980 MHz (H100 datasheet)
        assertEquals(989.4, CudaBackend.flopsPerClockPerSm(9, 0, DType.F16, false) * 132 * 1.830e9 / 1e12, 0.5);
        assertEquals(66.9, CudaBackend.flopsPerClockPerSm(9, 0, DType.F32, false) * 132 * 1.980e9 / 1e12, 0.1);
        assertEquals(-1, CudaBackend.flopsPerClockPerSm(7, 5, DType.F16, false), "unknown architectures report no peak");
    }
}
