package dev.onestep.image;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;

/**
 * An image file's width and height from its header, without decoding the pixels, so a huge image can be
 * refused before ImageIO allocates it on the heap.
 */
public final class ImageProbe {
    private ImageProbe() {}

    /** {width, height}, or null when no ImageIO reader recognises the file (the loader then says why). */
    public static int[] size(Path file) throws IOException {
        if (!Files.isRegularFile(file)) return null;
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            if (in == null) return null;
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) return null;
            ImageReader r = readers.next();
            try {
                r.setInput(in, true, true);
                return new int[] {r.getWidth(0), r.getHeight(0)};
            } catch (IOException | RuntimeException e) {
                return null;
            } finally {
                r.dispose();
            }
        }
    }
}
