package dev.onestep.image;

/**
 * uint8 RGB to the network's input range: {@code rgb / 255.0 * 2.0 - 1.0} in float32, as the reference
 * (PyTorch promotes the uint8 tensor to float32 and runs each op in float32, so every step rounds to float).
 */
public final class Normalize {
    private Normalize() {}

    /** [3, H, W] uint8 planes → [3, H, W] float in [−1, 1]. */
    public static float[] toUnitRange(RgbImage img) {
        return toUnitRange(img.planes());
    }

    /** Any uint8 planes → float in [−1, 1], element by element. */
    public static float[] toUnitRange(byte[] planes) {
        float[] lut = new float[256];
        for (int v = 0; v < 256; v++) lut[v] = (float) v / 255f * 2f - 1f;
        float[] out = new float[planes.length];
        for (int i = 0; i < out.length; i++) out[i] = lut[planes[i] & 0xFF];
        return out;
    }
}
