package dev.onestep;

import dev.onestep.pipeline.OneStepPipeline;
import dev.onestep.testutil.Compare;
import dev.onestep.testutil.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Lists run in batches (N in the batch dimension through the VAE and the UNet): each map is the reference's for its
 * image, and the one its own call gives, whatever the mix of sizes and however the list splits into batches.
 */
class OneStepBatchTest {
    static OneStep batched, single;

    static OneStep.Options options(int batchSize) {
        return OneStep.Options.builder().device("cpu").processingRes(64).exif(false).batchSize(batchSize).build();
    }

    @BeforeAll
    static void load() {
        batched = OneStep.load(Fixtures.model(), options(4));
        single = OneStep.load(Fixtures.model(), options(1));
    }

    @AfterAll
    static void close() {
        batched.close();
        single.close();
    }

    static Path input(String c) { return Fixtures.caseDir(c).resolve("input.png"); }

    /** Four of one size make a full batch; the other size waits and runs as a batch of two at the end. */
    @Test
    void batchedFilesMatchTheGoldens() throws IOException {
        String a = "case1_80x60", b = "case2_75x53";
        List<String> cases = List.of(a, b, a, a, b, a);
        List<Path> files = cases.stream().map(OneStepBatchTest::input).toList();
        long before = batched.liveMemoryBytes();
        List<DepthMap> depth = batched.predictDepthFiles(files);
        List<NormalMap> normals = batched.predictNormalsFiles(files);
        assertEquals(before, batched.liveMemoryBytes(), "a batch's working memory is released");
        assertEquals(cases.size(), depth.size());
        for (int i = 0; i < cases.size(); i++) {
            String c = cases.get(i);
            int[] shape = Fixtures.shape(c, "depth_final.npy");
            assertEquals(shape[shape.length - 1], depth.get(i).width(), c);
            assertEquals(shape[shape.length - 2], depth.get(i).height(), c);
            Compare.assertClose(i + " " + c + " depth", Fixtures.floats(c, "depth_final.npy"), depth.get(i).data(), 1e-4);
            Compare.assertClose(i + " " + c + " normals", Fixtures.floats(c, "normal_final.npy"), normals.get(i).data(), 1e-3);
        }
    }

    /**
     * Odd sizes, sizes that share a processing size, more images than batchSize: each as it is alone. Within 1e-4
     * (the fixtures' depth tolerance): the encoder and the UNet give bit-equal batches here, the decoder sums in
     * another order for N > 1 (about 1e-5 on decoded values near 2), and the normals' unit-length division
     * amplifies that a few times.
     */
    static final double BATCH_TOLERANCE = 1e-4;

    @Test
    void aBatchGivesWhatEachImageGivesAlone() {
        int[][] sizes = {{33, 71}, {17, 17}, {64, 48}, {33, 71}, {128, 96}, {33, 71}, {33, 71}, {20, 20}, {33, 71}};
        Random r = new Random(7);
        List<BufferedImage> images = new ArrayList<>();
        for (int[] wh : sizes) images.add(noise(wh[0], wh[1], r));
        List<DepthMap> depth = batched.predictDepth(images);
        List<NormalMap> normals = batched.predictNormals(images);
        for (int i = 0; i < images.size(); i++) {
            DepthMap d = single.predictDepth(images.get(i));
            assertEquals(d.width(), depth.get(i).width());
            assertEquals(d.height(), depth.get(i).height());
            Compare.assertClose("image " + i + " depth", d.data(), depth.get(i).data(), BATCH_TOLERANCE);
            Compare.assertClose("image " + i + " normals", single.predictNormals(images.get(i)).data(), normals.get(i).data(), BATCH_TOLERANCE);
        }
    }

    @Test
    void anEmptyListGivesAnEmptyList() throws IOException {
        assertTrue(batched.predictDepth(List.<BufferedImage>of()).isEmpty());
        assertTrue(batched.predictNormalsFiles(List.of()).isEmpty());
    }

    @Test
    void oneBatchHoldsOneProcessingSize() {
        dev.onestep.image.RgbImage a = Fixtures.inputImage("case1_80x60"), b = Fixtures.inputImage("case2_75x53");
        try (OneStepPipeline p = OneStepPipeline.load(dev.onestep.io.ModelFolder.open(Fixtures.model(), null),
                dev.onestep.backend.Backends.create("cpu", dev.onestep.tensor.DType.F32, m -> {}))) {
            var prepared = List.of(p.prepare(a, 64, dev.onestep.image.Resize.Mode.BILINEAR), p.prepare(b, 64, dev.onestep.image.Resize.Mode.BILINEAR));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> p.predict(prepared, dev.onestep.Task.DEPTH, null, dev.onestep.pipeline.PostProcess.Output.INPUT_SIZE));
            assertTrue(e.getMessage().contains("one processing size"), e.getMessage());
        }
    }

    static BufferedImage noise(int w, int h, Random r) {
        BufferedImage bi = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) bi.setRGB(x, y, r.nextInt(1 << 24));
        return bi;
    }
}
