package dev.onestep;

import dev.onestep.backend.cpu.Parallel;
import dev.onestep.testutil.Compare;
import dev.onestep.testutil.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The library's front door: the options builder, recipes through the library, lists, threads, the JVM flag check. */
class OneStepApiTest {
    static final String CASE = "case1_80x60";
    static OneStep model;

    static OneStep.Options cpu() {
        return OneStep.Options.builder().device("cpu").processingRes(64).exif(false).build();
    }

    @BeforeAll
    static void load() { model = OneStep.load(Fixtures.model(), cpu()); }

    @AfterAll
    static void close() { model.close(); }

    static Path input() { return Fixtures.caseDir(CASE).resolve("input.png"); }

    @Test
    void theBuilderSetsEveryOptionAndDefaultsAreDocumented() {
        OneStep.Options d = OneStep.Options.defaults();
        assertEquals("auto", d.device());
        assertEquals("fp32", d.dtype());
        assertEquals(768, d.processingRes());
        assertEquals(Resample.BILINEAR, d.resample());
        assertEquals(null, d.variant());
        assertEquals(null, d.revision());
        assertTrue(d.exif());
        assertEquals(0, d.maxMemory());
        assertEquals(0, d.threads());
        assertEquals(1, d.batchSize());
        assertTrue(d.weightCheck());
        OneStep.Listener l = new OneStep.Listener() {};
        OneStep.Options o = OneStep.Options.builder().device("cuda").dtype("bf16").processingRes(96).resample(Resample.BICUBIC)
                .variant("fp16").revision("v1.0").exif(false).maxMemory(1 << 30).threads(1).batchSize(4).weightCheck(false)
                .listener(l).hubCache(Path.of("/tmp/hf")).hubEndpoint("http://mirror:8080").hubToken("t").offline(true).build();
        assertEquals("cuda", o.device());
        assertEquals("bf16", o.dtype());
        assertEquals(96, o.processingRes());
        assertEquals(Resample.BICUBIC, o.resample());
        assertEquals("fp16", o.variant());
        assertEquals("v1.0", o.revision());
        assertFalse(o.exif());
        assertEquals(1 << 30, o.maxMemory());
        assertEquals(1, o.threads());
        assertEquals(4, o.batchSize());
        assertFalse(o.weightCheck());
        assertEquals(l, o.listener());
        assertEquals(Path.of("/tmp/hf"), o.hub().cacheDir());
        assertEquals("http://mirror:8080", o.hub().endpoint());
        assertEquals("t", o.hub().token());
        assertTrue(o.hub().offline());
        assertEquals(o.toString(), o.toBuilder().build().toString(), "toBuilder keeps every value");
        assertEquals(2, o.withBatchSize(2).batchSize());
        assertEquals("fp16", o.withDtype("fp16").dtype());
    }

    static void assertRefused(Supplier<?> s, String... words) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, s::get);
        for (String w : words) assertTrue(e.getMessage().contains(w), e.getMessage() + " should name " + w);
    }

    @Test
    void badValuesAreRefusedNamingTheAcceptedOnes() {
        OneStep.Options.Builder b = OneStep.Options.builder();
        assertRefused(() -> b.device("gpu"), "\"auto\"", "\"cpu\"", "\"cuda\"", "gpu");
        assertRefused(() -> b.device("CPU"), "\"cpu\"");
        assertRefused(() -> b.dtype("fp64"), "\"fp32\"", "\"bf16\"", "\"fp16\"");
        assertRefused(() -> b.dtype("float32"), "\"fp32\"");
        assertRefused(() -> b.processingRes(-1), "processingRes");
        assertRefused(() -> b.threads(-1), "threads");
        assertRefused(() -> b.threads(Parallel.THREADS + 1), "threads", String.valueOf(Parallel.THREADS));
        assertRefused(() -> b.batchSize(0), "batchSize");
        assertRefused(() -> b.maxMemory(-1), "maxMemory");
        assertRefused(() -> b.variant("../fp16"), "variant");
        assertRefused(() -> Recipe.marigold().steps(0), "steps");
        assertRefused(() -> Recipe.marigold().ensemble(0), "ensemble");
        assertRefused(() -> Recipe.marigold().spacing("sideways"), "leading", "trailing");
        assertRefused(() -> Recipe.marigold().finalLatent("z"), "x0", "prev");
    }

    @Test
    void aSixteenBitDtypeOnTheCpuIsRefusedAtLoad() {
        assertRefused(() -> OneStep.load(Fixtures.model(), cpu().withDtype("bf16")), "bf16", "fp32", "cuda");
    }

    @ParameterizedTest
    @ValueSource(strings = {"leading", "trailing"})
    void theMarigoldRecipeThroughTheLibraryMatchesTheFourStepGoldens(String kind) throws IOException {
        Recipe r = Recipe.marigold().steps(4).ensemble(1).spacing(kind).noise(Fixtures.floats(CASE, "ddim4_" + kind + "/init_noise.npy"));
        DepthMap x0 = model.predictDepth(input(), r);
        Compare.assertClose(kind + " e2eft_depth_final", Fixtures.floats(CASE, "ddim4_" + kind + "/e2eft_depth_final.npy"), x0.data(), 1e-4);
        assertTrue(x0.uncertainty().isEmpty(), "one member: no uncertainty");
        DepthMap prev = model.predictDepth(input(), r.finalLatent("prev"));
        Compare.assertClose(kind + " marigold_depth_final", Fixtures.floats(CASE, "ddim4_" + kind + "/marigold_depth_final.npy"), prev.data(), 1e-4);
        NormalMap n = model.predictNormals(input(), r);
        Compare.assertClose(kind + " e2eft_normal_final", Fixtures.floats(CASE, "ddim4_" + kind + "/e2eft_normal_final.npy"), n.data(), 1e-3);
    }

    /**
     * matchInputResolution(false): the maps at the decoder's size, against the fixtures' *_proc_res goldens (one step:
     * depth_proc_res, normal_proc_res; four steps: ddim4_trailing/e2eft_depth_proc_res, marigold_depth_proc_res).
     */
    @Test
    void atTheProcessingResolutionTheMapsAreTheGoldensBeforeTheResizeBack() throws IOException {
        try (OneStep proc = OneStep.load(Fixtures.model(), cpu().toBuilder().matchInputResolution(false).build())) {
            DepthMap d = proc.predictDepth(input());
            int[] shape = dev.onestep.io.Npy.shape(Fixtures.caseDir(CASE).resolve("depth_proc_res.npy"));
            assertEquals(shape[shape.length - 2], d.height());
            assertEquals(shape[shape.length - 1], d.width());
            Compare.assertClose("depth_proc_res", Fixtures.floats(CASE, "depth_proc_res.npy"), d.data(), 1e-4);
            NormalMap n = proc.predictNormals(input());
            assertEquals(d.width(), n.width());
            Compare.assertClose("normal_proc_res", Fixtures.floats(CASE, "normal_proc_res.npy"), n.data(), 1e-3);
            Recipe r = Recipe.marigold().steps(4).ensemble(1).spacing("trailing").noise(Fixtures.floats(CASE, "ddim4_trailing/init_noise.npy"));
            Compare.assertClose("e2eft_depth_proc_res", Fixtures.floats(CASE, "ddim4_trailing/e2eft_depth_proc_res.npy"), proc.predictDepth(input(), r).data(), 1e-4);
            Compare.assertClose("marigold_depth_proc_res", Fixtures.floats(CASE, "ddim4_trailing/marigold_depth_proc_res.npy"),
                    proc.predictDepth(input(), r.finalLatent("prev")).data(), 1e-4);
            DepthMap e = proc.predictDepth(input(), Recipe.marigold().steps(1).ensemble(2));
            assertEquals(e.width() * e.height(), e.uncertainty().orElseThrow().length, "uncertainty at the processing size too");
        }
    }

    /** renormalizeNormals: unit length after the resize back (diffusers' way); off, E2E-FT's resized normals are shorter at edges. */
    @Test
    void renormalizedNormalsHaveUnitLengthAndTheDefaultKeepsE2eFtsNormals() throws IOException {
        NormalMap plain = model.predictNormals(input());
        Compare.assertClose("normal_final", Fixtures.floats(CASE, "normal_final.npy"), plain.data(), 1e-3);
        try (OneStep unit = OneStep.load(Fixtures.model(), cpu().toBuilder().renormalizeNormals(true).build())) {
            float[] n = unit.predictNormals(input()).data();
            int px = n.length / 3;
            double worstPlain = 0;
            for (int i = 0; i < px; i++) {
                double len = Math.sqrt(n[i] * n[i] + n[px + i] * n[px + i] + n[2 * px + i] * n[2 * px + i]);
                assertEquals(1.0, len, 1e-5, "pixel " + i);
                float[] p = plain.data();
                worstPlain = Math.max(worstPlain, Math.abs(1 - Math.sqrt(p[i] * p[i] + p[px + i] * p[px + i] + p[2 * px + i] * p[2 * px + i])));
                for (int c = 0; c < 3; c++) { // the direction is the resized normal's
                    double expected = p[c * px + i] / Math.max(Math.sqrt(p[i] * p[i] + p[px + i] * p[px + i] + p[2 * px + i] * p[2 * px + i]), 1e-6);
                    assertEquals(expected, n[c * px + i], 1e-5);
                }
            }
            assertTrue(worstPlain > 1e-4, "the default is not renormalised (worst |1 − ‖n‖| " + worstPlain + ")");
        }
    }

    @Test
    void anEnsembleGivesAnUncertaintyAtTheMapSizeAndOneStepIsTheDefault() throws IOException {
        BufferedImage img = ImageIO.read(input().toFile());
        DepthMap d = model.predictDepth(img, Recipe.marigold().steps(2).ensemble(3).seed(1));
        float[] u = d.uncertainty().orElseThrow();
        assertEquals(d.width() * d.height(), u.length);
        for (float v : u) assertTrue(v >= 0 && Float.isFinite(v));
        NormalMap n = model.predictNormals(img, Recipe.marigold().steps(1).ensemble(2));
        assertEquals(n.width() * n.height(), n.uncertainty().orElseThrow().length);
        assertArrayEquals(model.predictDepth(img).data(), model.predictDepth(img, Recipe.oneStep()).data());
        assertTrue(model.predictDepth(img).uncertainty().isEmpty());
        Compare.assertClose("one-step Marigold = the one-step pipeline", model.predictDepth(img).data(),
                model.predictDepth(img, Recipe.marigold().steps(1).ensemble(1).spacing("trailing").zeroNoise()).data(), 1e-5);
    }

    @Test
    void listsGiveWhatEachImageGivesAlone() throws IOException {
        List<BufferedImage> imgs = new ArrayList<>();
        for (String c : Fixtures.cases()) imgs.add(ImageIO.read(Fixtures.caseDir(c).resolve("input.png").toFile()));
        imgs.add(imgs.get(0));
        List<DepthMap> depth = model.predictDepth(imgs);
        List<NormalMap> normals = model.predictNormals(imgs);
        assertEquals(imgs.size(), depth.size());
        for (int i = 0; i < imgs.size(); i++) {
            assertArrayEquals(model.predictDepth(imgs.get(i)).data(), depth.get(i).data(), "image " + i);
            assertArrayEquals(model.predictNormals(imgs.get(i)).data(), normals.get(i).data(), "image " + i);
        }
        List<DepthMap> files = model.predictDepthFiles(List.of(input(), input()));
        assertArrayEquals(depth.get(0).data(), files.get(1).data());
    }

    @Test
    void oneThreadGivesTheSameMap() throws IOException {
        try (OneStep single = OneStep.load(Fixtures.model(), cpu().withThreads(1))) {
            Compare.assertClose("threads(1)", model.predictDepth(input()).data(), single.predictDepth(input()).data(), 1e-5);
        }
    }

    @Test
    void aJvmWithoutTheFlagsGetsOneMessageNamingThem() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        String noVector = child(java, "--enable-native-access=ALL-UNNAMED", "-cp", cp, JvmFlagsChild.class.getName(), Fixtures.model().toString());
        assertTrue(noVector.contains("failed: java.lang.IllegalStateException") && noVector.contains("--add-modules jdk.incubator.vector"), noVector);
        assertFalse(noVector.contains("NoClassDefFoundError"), noVector);
        String noNative = child(java, "--add-modules", "jdk.incubator.vector", "--illegal-native-access=deny", "-cp", cp,
                JvmFlagsChild.class.getName(), Fixtures.model().toString());
        assertTrue(noNative.contains("failed: java.lang.IllegalStateException") && noNative.contains("--enable-native-access=ALL-UNNAMED"), noNative);
        String both = child(java, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-cp", cp,
                JvmFlagsChild.class.getName(), Fixtures.model().toString());
        assertTrue(both.contains("loaded tiny-sd2"), both);
    }

    /** JCuda is an optional dependency: without its jar, auto runs on the CPU and cuda says what to add. */
    @Test
    void withoutTheJcudaJarAutoUsesTheCpuAndCudaNamesTheMissingJar() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String sep = System.getProperty("path.separator");
        String cp = String.join(sep, Arrays.stream(
                System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")).split(sep))
                .filter(e -> !e.contains("jcuda")).toList());
        String auto = child(java, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-cp", cp,
                JvmFlagsChild.class.getName(), Fixtures.model().toString(), "auto");
        assertTrue(auto.contains("loaded tiny-sd2 on cpu"), auto);
        String cuda = child(java, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-cp", cp,
                JvmFlagsChild.class.getName(), Fixtures.model().toString(), "cuda");
        assertTrue(cuda.contains("failed: java.lang.IllegalStateException") && cuda.contains("add org.jcuda:jcuda"), cuda);
    }

    static String child(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        return new String(out);
    }
}
