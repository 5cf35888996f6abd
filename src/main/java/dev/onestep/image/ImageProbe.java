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
        return size(ImageIO.createImageInputStream(file.toFile()));
    }

    /** {width, height} of an encoded image in memory, or null when no ImageIO reader recognises it. */
    public static int[] size(byte[] encoded) throws IOException {
        return size(ImageIO.createImageInputStream(new java.io.ByteArrayInputStream(encoded)));
    }

    private static int[] size(ImageInputStream stream) throws IOException {
        try (ImageInputStream in = stream) {
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
