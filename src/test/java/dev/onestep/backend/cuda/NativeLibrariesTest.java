package dev.onestep.backend.cuda;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Where cuBLAS/cuDNN are looked for, in which order, against a fake filesystem tree (no libraries opened). */
class NativeLibrariesTest {

    private static Path touch(Path p) throws IOException {
        Files.createDirectories(p.getParent());
        return Files.writeString(p, "");
    }

    @Test
    void explicitFoldersFirstThenSystemThenLdPathThenToolkitThenPythonWheels(@TempDir Path root) throws IOException {
        Path explicit = root.resolve("custom"), ld = root.resolve("ld");
        touch(explicit.resolve("libcublas.so.12"));
        touch(ld.resolve("libcublas.so.13"));
        touch(root.resolve("usr/local/cuda/lib64/libcublas.so.12"));
        Path wheel13 = root.resolve("opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib");
        touch(wheel13.resolve("libcublas.so.13"));
        Path wheel12 = root.resolve("usr/local/lib/python3.10/dist-packages/nvidia/cublas/lib");
        touch(wheel12.resolve("libcublas.so.12"));
        Map<String, String> env = Map.of("ONESTEP_CUDA_LIB_PATH", explicit.toString(), "LD_LIBRARY_PATH", ld + ":" + root.resolve("missing"));

        List<Path> dirs = NativeLibraries.searchDirectories(env, root, root.resolve("home"));
        List<NativeLibraries.Candidate> c = NativeLibraries.candidates(NativeLibraries.CUBLAS, dirs);
        List<String> order = c.stream().map(NativeLibraries.Candidate::describe).toList();
        assertEquals(List.of(
                explicit.resolve("libcublas.so.12").toString(),
                "libcublas.so.13 (system loader)",
                "libcublas.so.12 (system loader)",
                ld.resolve("libcublas.so.13").toString(),
                root.resolve("usr/local/cuda/lib64/libcublas.so.12").toString(),
                root.resolve("usr/local/lib/python3.10/dist-packages/nvidia/cublas/lib/libcublas.so.12").toString(),
                wheel13.resolve("libcublas.so.13").toString()), order);
    }

    @Test
    void sitePackagesCoverVenvsCondaAndUserInstalls(@TempDir Path root) throws IOException {
        Path venv = root.resolve("venv"), home = root.resolve("home");
        Files.createDirectories(venv.resolve("lib/python3.11/site-packages"));
        Files.createDirectories(home.resolve(".local/lib/python3.12/site-packages"));
        Files.createDirectories(root.resolve("opt/conda/lib/python3.9/site-packages"));
        List<Path> sp = NativeLibraries.sitePackages(Map.of("VIRTUAL_ENV", venv.toString()), root, home);
        assertTrue(sp.contains(venv.resolve("lib/python3.11/site-packages")), sp.toString());
        assertTrue(sp.contains(home.resolve(".local/lib/python3.12/site-packages")), sp.toString());
        assertTrue(sp.contains(root.resolve("opt/conda/lib/python3.9/site-packages")), sp.toString());
        assertEquals(venv.resolve("lib/python3.11/site-packages"), sp.getFirst(), "an active virtualenv comes first");
    }

    @Test
    void companionsShareTheSonameVersion() {
        assertEquals(List.of("libcublasLt.so.13"), NativeLibraries.CUBLAS.companionsFor("libcublas.so.13"));
        assertEquals(List.of("libcublasLt.so.12"), NativeLibraries.CUBLAS.companionsFor("libcublas.so.12"));
        assertTrue(NativeLibraries.CUDNN.companionsFor("libcudnn.so.9").contains("libcudnn_cnn.so.9"));
    }

    @Test
    void aMissingLibraryIsReportedWithEveryPlaceSearched() {
        NativeLibraries.Spec nope = new NativeLibraries.Spec("NoSuchLib", List.of("libonestep_no_such_lib.so.1"), List.of());
        IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, () -> NativeLibraries.load(nope));
        assertTrue(e.getMessage().startsWith("NoSuchLib not found: tried [libonestep_no_such_lib.so.1]"), e.getMessage());
        assertTrue(e.getMessage().contains("ONESTEP_CUDA_LIB_PATH") && e.getMessage().contains("(system loader)"), e.getMessage());
    }

    @Test
    void anOptionalLibraryThatIsMissingPreloadsAsNull() {
        NativeLibraries.Spec nope = new NativeLibraries.Spec("NoSuchLib", List.of("libonestep_no_such_lib.so.1"), List.of());
        org.junit.jupiter.api.Assertions.assertNull(NativeLibraries.preload(nope));
        assertEquals(List.of("libnvrtc.so.13", "libnvrtc.so.12"), NativeLibraries.NVRTC.sonames());
    }
}
