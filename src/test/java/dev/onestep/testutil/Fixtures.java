package dev.onestep.testutil;

import dev.onestep.io.Npy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * The golden fixtures (copied from shared/fixtures into src/test/resources/fixtures): the tiny SD2-shaped
 * model in diffusers layout and per-case tensors written by the reference (diffusers on PyTorch). NCHW.
 */
public final class Fixtures {
    private Fixtures() {}

    /** The fixtures root folder. */
    public static Path root() {
        URL url = Fixtures.class.getResource("/fixtures/README.md");
        if (url == null) throw new IllegalStateException("fixtures missing from the test classpath (src/test/resources/fixtures)");
        try {
            return Path.of(url.toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The tiny SD2 model folder (diffusers layout). */
    public static Path model() { return root().resolve("tiny-sd2"); }

    /** The case names: case1_80x60, case2_75x53. */
    public static List<String> cases() {
        try (Stream<Path> s = Files.list(root().resolve("cases"))) {
            return s.filter(Files::isDirectory).map(p -> p.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static Path caseDir(String name) { return root().resolve("cases").resolve(name); }

    /** A fixture tensor of a case as floats, e.g. floats("case1_80x60", "activations/unet/mid_block.npy"). */
    public static float[] floats(String caseName, String file) {
        try {
            return Npy.readFloats(caseDir(caseName).resolve(file));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A case's input image from {@code input_rgb_uint8.npy} ([3, H, W], the reference's uint8 planes), the same pixels
     * as input.png, without ImageIO: the GPU machine's carried JRE has no java.desktop.
     */
    public static dev.onestep.image.RgbImage inputImage(String caseName) {
        int[] s = shape(caseName, "input_rgb_uint8.npy");
        float[] v = floats(caseName, "input_rgb_uint8.npy");
        byte[] planes = new byte[v.length];
        for (int i = 0; i < v.length; i++) planes[i] = (byte) Math.round(v[i]);
        return new dev.onestep.image.RgbImage(planes, s[2], s[1], caseName);
    }

    /** The shape of a fixture tensor of a case. */
    public static int[] shape(String caseName, String file) {
        try {
            return Npy.shape(caseDir(caseName).resolve(file));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
