package dev.onestep.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.onestep.image.ImageLoader;
import dev.onestep.image.ImageProbe;
import dev.onestep.image.RgbImage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The image probe and decoders (PNG, JPEG with EXIF orientation, BMP, GIF, WBMP, TIFF through ImageIO and our
 * checks) on any bytes: an image whose pixels match the probed size, or one IOException naming the file; never an
 * unchecked exception from a decoder, never a decode larger than the probe allowed.
 */
class ImageFuzzTest {
    private static final String FUZZ_LIMIT = "above the fuzz limit of 4 megapixels";

    @FuzzTest
    void anyBytesAreAnImageOrOneIOException(byte[] bytes) throws IOException {
        Path dir = Files.createTempDirectory("fuzz");
        Path f = Files.write(dir.resolve("input.png"), bytes);
        try {
            int[] probed = null;
            try {
                probed = ImageProbe.size(bytes);
            } catch (IOException notAnImage) {
                // the loader must then refuse it too, or decode it to a valid image
            }
            try {
                RgbImage img = ImageLoader.load(f, true, (w, h) -> {
                    if ((long) w * h > 1L << 22) throw new IllegalArgumentException(FUZZ_LIMIT);
                });
                assertTrue(img.width() > 0 && img.height() > 0);
                assertEquals((long) img.width() * img.height() * 3, img.planes().length);
                if (probed != null) assertTrue((long) probed[0] * probed[1] == (long) img.width() * img.height(), "probe and decode disagree");
            } catch (IOException expected) {
                assertTrue(expected.getMessage().contains(f.toString()), expected.getMessage());
            } catch (IllegalArgumentException e) {
                if (!FUZZ_LIMIT.equals(e.getMessage())) throw e; // the size check's own refusal, before any decoding
            }
        } finally {
            Fuzzing.deleteTree(dir);
        }
    }
}
