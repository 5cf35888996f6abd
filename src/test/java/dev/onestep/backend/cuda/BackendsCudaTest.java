package dev.onestep.backend.cuda;

import dev.onestep.backend.Backend;
import dev.onestep.backend.Backends;
import dev.onestep.tensor.DType;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** --device selection with and without a GPU: each branch asserts what this machine should do. */
class BackendsCudaTest {

    @Test
    void cudaWithoutAGpuFailsWithOneClearMessage() {
        if (CudaBackend.isAvailable()) {
            try (Backend b = Backends.create("cuda", DType.F32, s -> {})) {
                assertEquals("cuda", b.name());
                assertTrue(b.describe().startsWith("CUDA: "), b.describe());
            }
            return;
        }
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Backends.create("cuda", s -> {}));
        assertTrue(e.getMessage().startsWith("--device cuda: no usable CUDA GPU: "), e.getMessage());
        assertTrue(e.getMessage().contains(CudaBackend.unavailableReason()), e.getMessage());
        assertTrue(e.getMessage().endsWith("Use --device cpu (or auto)."), e.getMessage());
    }

    @Test
    void autoFallsBackToTheCpuAndSaysWhy() {
        List<String> log = new ArrayList<>();
        try (Backend b = Backends.create("auto", DType.BF16, log::add)) {
            if (CudaBackend.isAvailable()) {
                assertEquals("cuda", b.name());
                assertEquals(DType.BF16, b.computeType());
                assertTrue(log.contains("--device auto: found a CUDA GPU"), log.toString());
            } else {
                assertEquals("cpu", b.name());
                assertTrue(log.getFirst().startsWith("no CUDA GPU found (") && log.getFirst().endsWith("); using the CPU"), log.toString());
                if (CudaBackend.unavailableReason().startsWith("the CUDA driver library"))
                    assertEquals("no CUDA GPU found (libcuda.so.1 not loadable); using the CPU", log.getFirst());
                assertTrue(log.get(log.size() - 2).startsWith("Using CPU"), log.toString());
                assertEquals("note: --dtype bf16 applies to the CUDA backend; the cpu backend computes in fp32", log.getLast());
            }
        }
    }

    @Test
    void theProbeNeverThrowsAndExplainsItself() {
        String why = CudaBackend.unavailableReason();
        assertEquals(why == null, CudaBackend.isAvailable());
        if (why != null) assertTrue(!why.isBlank(), "a reason is given");
        if (!CudaBackend.isAvailable()) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> new CudaBackend(DType.F32));
            assertTrue(e.getMessage().startsWith("CUDA is not available: "), e.getMessage());
        }
    }

    @Test
    void theCpuSaysWhenItIgnoresDtype() {
        List<String> log = new ArrayList<>();
        try (Backend b = Backends.create("cpu", DType.F16, log::add)) {
            assertEquals(DType.F32, b.computeType());
            assertEquals("note: --dtype fp16 applies to the CUDA backend; the cpu backend computes in fp32", log.getLast());
        }
        log.clear();
        try (Backend b = Backends.create("cpu", DType.F32, log::add)) {
            assertTrue(log.stream().noneMatch(m -> m.startsWith("note:")), log.toString());
        }
    }
}
