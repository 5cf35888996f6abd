package dev.onestep.backend;

/** Zero padding around an image for a convolution, in pixels. */
public record Padding(int top, int bottom, int left, int right) {
    public Padding {
        if (top < 0 || bottom < 0 || left < 0 || right < 0) throw new IllegalArgumentException("negative padding");
    }

    /** The same padding on every side (PyTorch's Conv2d padding=p). */
    public static Padding same(int p) { return new Padding(p, p, p, p); }

    /** No padding. */
    public static final Padding NONE = new Padding(0, 0, 0, 0);

    /** The SD VAE downsampler's F.pad(x, (0, 1, 0, 1)): one extra row at the bottom and column at the right. */
    public static final Padding BOTTOM_RIGHT = new Padding(0, 1, 0, 1);

    public int outSize(int in, int kernel, int stride, boolean vertical) {
        int padded = in + (vertical ? top + bottom : left + right);
        return (padded - kernel) / stride + 1;
    }
}
