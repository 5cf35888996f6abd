package dev.onestep;

import dev.onestep.io.Npy;
import dev.onestep.io.hub.HubConfig;
import dev.onestep.testutil.Compare;
import dev.onestep.testutil.FakeHub;
import dev.onestep.testutil.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The library API on the fixture model: reference agreement, input kinds, threads, limits, close. */
class OneStepTest {
    static final List<String> messages = new ArrayList<>();
    static OneStep model;

    static OneStep.Options options() {
        return OneStep.Options.defaults().withDevice("cpu").withProcessingRes(64).withExif(false)
                .withListener(new OneStep.Listener() {
                    @Override
                    public void info(String m) { synchronized (messages) { messages.add(m); } }
                });
    }

    @BeforeAll
    static void load() { model = OneStep.load(Fixtures.model().toString(), options()); }

    @AfterAll
    static void close() { model.close(); }

    static Path input(String c) { return Fixtures.caseDir(c).resolve("input.png"); }

    @Test
    void depthAndNormalsMatchTheReference() throws IOException {
        for (String c : Fixtures.cases()) {
            DepthMap d = model.predictDepth(input(c));
            int[] shape = Fixtures.shape(c, "depth_final.npy");
            assertEquals(shape[shape.length - 1], d.width());
            assertEquals(shape[shape.length - 2], d.height());
            Compare.assertClose(c + " depth", Fixtures.floats(c, "depth_final.npy"), d.data(), 1e-4);
            NormalMap n = model.predictNormals(input(c));
            Compare.assertClose(c + " normals", Fixtures.floats(c, "normal_final.npy"), n.data(), 1e-3);
        }
        assertTrue(messages.stream().anyMatch(m -> m.startsWith("Using")), messages.toString());
    }

    @Test
    void bufferedImageAndFloatPlanesGiveTheSameResultAsTheFile() throws IOException {
        Path in = input("case1_80x60");
        float[] fromFile = model.predictDepth(in).data();
        BufferedImage bi = ImageIO.read(in.toFile());
        assertArrayEquals(fromFile, model.predictDepth(bi).data());
        int w = bi.getWidth(), h = bi.getHeight();
        float[] chw = new float[3 * w * h];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int rgb = bi.getRGB(x, y);
                for (int c = 0; c < 3; c++) chw[(c * h + y) * w + x] = ((rgb >> (16 - 8 * c)) & 0xFF) / 255f;
            }
        assertArrayEquals(fromFile, model.predictDepth(chw, w, h).data());
    }

    @Test
    void concurrentCallersGetSerialisedIdenticalResults() throws Exception {
        float[] expected = model.predictNormals(input("case2_75x53")).data();
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            List<Future<float[]>> fs = new ArrayList<>();
            for (int i = 0; i < 3; i++) fs.add(pool.submit(() -> model.predictNormals(input("case2_75x53")).data()));
            for (Future<float[]> f : fs) assertArrayEquals(expected, f.get());
        } finally {
            pool.shutdown();
        }
    }

    @Test
    void writersProduceTheFiles(@TempDir Path tmp) throws IOException {
        DepthMap d = model.predictDepth(input("case1_80x60"));
        d.writeNpy(tmp.resolve("d.npy"));
        d.writePng16(tmp.resolve("d.png"));
        d.writeColor(tmp.resolve("c.png"));
        assertArrayEquals(d.data(), Npy.readFloats(tmp.resolve("d.npy")));
        assertEquals(16, ImageIO.read(tmp.resolve("d.png").toFile()).getColorModel().getPixelSize());
        NormalMap n = model.predictNormals(input("case1_80x60"));
        n.writeNpy(tmp.resolve("n.npy"));
        n.writePng(tmp.resolve("n.png"));
        assertEquals(80, ImageIO.read(tmp.resolve("n.png").toFile()).getWidth());
        assertEquals(n.data()[0], n.get(0, 0, 0));
    }

    @Test
    void badInputsAreClearExceptions(@TempDir Path tmp) throws IOException {
        Path text = Files.writeString(tmp.resolve("notes.png"), "hello");
        IOException e = assertThrows(IOException.class, () -> model.predictDepth(text));
        assertTrue(e.getMessage().contains("notes.png"), e.getMessage());
        assertThrows(IOException.class, () -> model.predictDepth(tmp.resolve("missing.jpg")));
        assertThrows(IllegalArgumentException.class, () -> model.predictDepth(new float[5], 2, 2));
        assertThrows(IllegalArgumentException.class, () -> model.predictDepth(new float[0], 0, 0));
    }

    @Test
    void anImageAboveTheMemoryLimitIsRefusedWithTheSizeItNeeds() {
        try (OneStep small = OneStep.load(Fixtures.model(), options().withProcessingRes(0).withMaxMemory(1 << 20))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> small.predictDepth(input("case1_80x60")));
            assertTrue(e.getMessage().contains("needs about") && e.getMessage().contains("1.0 MB") && e.getMessage().contains("--processing-res"), e.getMessage());
        }
    }

    @Test
    void closedInstancesRefuseWork() {
        OneStep m = OneStep.load(Fixtures.model(), options());
        m.close();
        m.close(); // idempotent
        assertThrows(IllegalStateException.class, () -> m.predictDepth(input("case1_80x60")));
    }

    @Test
    void loadsAHubIdThroughTheCache(@TempDir Path cache) throws IOException {
        try (FakeHub hub = new FakeHub("test-org/tiny-sd2-depth", Fixtures.model())) {
            HubConfig cfg = new HubConfig(cache, hub.endpoint(), null, false);
            try (OneStep m = OneStep.load("test-org/tiny-sd2-depth", options().withHub(cfg))) {
                assertTrue(m.modelDir().startsWith(cache));
                assertEquals(java.util.Optional.of(Task.DEPTH), m.likelyTask());
                Compare.assertClose("hub depth", Fixtures.floats("case1_80x60", "depth_final.npy"),
                        m.predictDepth(input("case1_80x60")).data(), 1e-4);
            }
        }
    }

    @Test
    void loadsAPinnedRevisionOfAHubId(@TempDir Path cache) throws IOException {
        String c2 = "fedcba9876543210fedcba9876543210fedcba98";
        try (FakeHub hub = new FakeHub("test-org/tiny-sd2-depth", Fixtures.model())) {
            hub.addCommit(c2, hub.files());
            hub.addRef("v1.0", c2);
            HubConfig cfg = new HubConfig(cache, hub.endpoint(), null, false);
            OneStep.Options o = options().withRevision("v1.0").withHub(cfg).withVariant(null).withExif(false);
            assertEquals("v1.0", o.revision(), "every with* keeps the revision");
            assertEquals(null, options().revision());
            try (OneStep m = OneStep.load("test-org/tiny-sd2-depth", o)) {
                assertEquals(cache.resolve("models--test-org--tiny-sd2-depth/snapshots/" + c2), m.modelDir());
            }
            try (OneStep m = OneStep.load("test-org/tiny-sd2-depth@" + c2, options().withHub(cfg.withOffline(true)))) {
                assertEquals(cache.resolve("models--test-org--tiny-sd2-depth/snapshots/" + c2), m.modelDir());
            }
            assertThrows(dev.onestep.io.WeightsException.class, () -> OneStep.load(Fixtures.model().toString(), options().withRevision("v1.0")));
        }
    }

    @Test
    void aMismatchedTaskIsReportedOnce() {
        List<String> warnings = new ArrayList<>();
        Path dir = Fixtures.model();
        // the fixture has no task in its metadata: no warning
        try (OneStep m = OneStep.load(dir, options().withListener(new OneStep.Listener() {
            @Override
            public void warning(String w) { warnings.add(w); }
        }))) {
            m.predictNormals(input("case1_80x60"));
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        assertEquals(List.of(), warnings);
    }
}
