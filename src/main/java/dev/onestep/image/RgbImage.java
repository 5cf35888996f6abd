package dev.onestep.image;

import java.util.Objects;

/**
 * An 8-bit RGB image as three planes, [3, H, W] in C order (channel, row, column): what the reference gets
 * from {@code pil_to_tensor(img.convert("RGB"))}. Values are unsigned bytes; read them with {@link #get}.
 *
 * @param planes R plane, then G, then B; length 3·H·W
 * @param width  W
 * @param height H
 * @param name   where it came from (a file name or "buffered image"), for messages
 */
public record RgbImage(byte[] planes, int width, int height, String name) {

    public RgbImage {
        Objects.requireNonNull(planes, "planes");
        if (width <= 0 || height <= 0) throw new IllegalArgumentException("image size " + width + "x" + height + " is empty");
        if (planes.length != 3L * width * height)
            throw new IllegalArgumentException(planes.length + " bytes for a 3x" + height + "x" + width + " image");
        name = name == null ? "image" : name;
    }

    /** The value (0–255) of channel c at row y, column x. */
    public int get(int c, int y, int x) {
        return planes[(c * height + y) * width + x] & 0xFF;
    }

    /** Number of pixels, H·W. */
    public int pixels() { return width * height; }

    /** The planes widened to float, [3, H, W], values 0–255 (what torchvision resizes in). */
    public float[] toFloat() {
        float[] f = new float[planes.length];
        for (int i = 0; i < f.length; i++) f[i] = planes[i] & 0xFF;
        return f;
    }

    @Override
    public String toString() {
        return "RgbImage[" + name + ", " + width + "x" + height + "]";
    }
}
