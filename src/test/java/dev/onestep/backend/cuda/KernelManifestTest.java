package dev.onestep.backend.cuda;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The compiled kernels under src/main/resources/kernels/ must come from the kernels/*.cu in the tree: the MANIFEST
 * written by tools/compile-kernels.sh records each source's sha256, and this test recomputes them. A failure means
 * a .cu or .cuh changed without re-running the script (or the script was not run after adding a file). Runs
 * everywhere; needs no GPU and no nvcc.
 */
class KernelManifestTest {
    private static final Path SOURCES = Path.of("kernels");
    private static final Path OUTPUTS = Path.of("src/main/resources/kernels");

    static Map<String, String> manifest() throws IOException {
        Map<String, String> m = new TreeMap<>();
        for (String line : Files.readAllLines(OUTPUTS.resolve("MANIFEST"))) {
            if (line.isBlank() || line.startsWith("#")) continue;
            String[] parts = line.trim().split("\\s+", 2);
            m.put(parts[1].trim(), parts[0]);
        }
        return m;
    }

    static String sha256(Path p) throws IOException, NoSuchAlgorithmException {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p)));
    }

    static List<Path> sources() throws IOException {
        try (Stream<Path> s = Files.list(SOURCES)) {
            return s.filter(p -> p.toString().endsWith(".cu") || p.toString().endsWith(".cuh")).sorted().toList();
        }
    }

    @Test
    void everySourceHashMatchesTheManifest() throws Exception {
        Map<String, String> recorded = manifest();
        Map<String, String> actual = new TreeMap<>();
        for (Path src : sources()) actual.put("kernels/" + src.getFileName(), sha256(src));
        assertEquals(recorded.keySet(), actual.keySet(), "kernel sources differ from the ones compiled; run tools/compile-kernels.sh");
        for (Map.Entry<String, String> e : actual.entrySet())
            assertEquals(recorded.get(e.getKey()), e.getValue(), e.getKey() + " changed since its outputs were compiled; run tools/compile-kernels.sh");
    }

    @Test
    void everyModuleHasPtxAndCubinsOnTheClasspath() throws Exception {
        for (Path src : sources()) {
            String name = src.getFileName().toString();
            if (!name.endsWith(".cu")) continue;
            String module = name.substring(0, name.length() - 3);
            for (String suffix : new String[] {".ptx.gz", ".sm_80.cubin.gz", ".sm_90.cubin.gz"}) {
                try (InputStream in = KernelManifestTest.class.getResourceAsStream("/kernels/" + module + suffix)) {
                    assertNotNull(in, "/kernels/" + module + suffix + " missing from the classpath; run tools/compile-kernels.sh");
                    try (InputStream z = new java.util.zip.GZIPInputStream(in)) {
                        assertTrue(z.readAllBytes().length > 0, module + suffix + " is empty");
                    }
                }
            }
        }
    }

    @Test
    void ptxTargetsCompute80AndExportsTheKernelsTheBackendLaunches() throws Exception {
        String ptx = ptx("norms");
        assertTrue(ptx.contains(".target sm_80"), "PTX should be built for compute_80");
        for (String k : new String[] {"group_norm_stats_f32", "group_norm_finalize", "group_norm_apply_bf16", "layer_norm_f16"})
            assertTrue(ptx.contains(".entry " + k), k + " missing from norms.ptx");
        String att = ptx("attention");
        for (String dt : new String[] {"f32", "f16", "bf16"})
            for (String v : new String[] {"attention_dv64_", "attention_dv512_"})
                assertTrue(att.contains(".entry " + v + dt), v + dt + " missing from attention.ptx");
        for (String dt : new String[] {"f16", "bf16"}) // tensor-core kernels exist for the 16-bit storage types only
            for (String v : new String[] {"attention_tc64_", "attention_tc512_", "attention_fa64_", "attention_fa96_", "attention_fa128_",
                    "attention_fa512_64_", "attention_fa512_80_"})
                assertTrue(att.contains(".entry " + v + dt), v + dt + " missing from attention.ptx");
    }

    /** A module's committed PTX, inflated. */
    private static String ptx(String module) throws Exception {
        try (InputStream z = new java.util.zip.GZIPInputStream(Files.newInputStream(OUTPUTS.resolve(module + ".ptx.gz")))) {
            return new String(z.readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII);
        }
    }
}
