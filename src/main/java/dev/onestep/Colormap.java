package dev.onestep;

import dev.onestep.image.ColorLut;

/**
 * The colour maps a depth map can be drawn with ({@link DepthMap#toImage(Colormap)}), each matching matplotlib's
 * table of that name exactly (8-bit colours truncated as Marigold's {@code colorize_depth_maps}).
 */
public enum Colormap {
    /** matplotlib "Spectral" (ColorBrewer): red near, violet far. Marigold's choice and the default. */
    SPECTRAL(ColorLut.SPECTRAL),
    /** matplotlib "gray" (alias "grey"): black at 0 (near), white at 1 (far). */
    GRAY(ColorLut.GRAY),
    /** matplotlib "binary": white at 0 (near), black at 1 (far). */
    BINARY(ColorLut.BINARY),
    /** matplotlib "viridis". */
    VIRIDIS(ColorLut.VIRIDIS),
    /** matplotlib "magma". */
    MAGMA(ColorLut.MAGMA),
    /** matplotlib "turbo" (Google's improved rainbow). */
    TURBO(ColorLut.TURBO);

    private final ColorLut lut;

    Colormap(ColorLut lut) { this.lut = lut; }

    /** The lookup table behind this map. */
    ColorLut lut() { return lut; }

    /** matplotlib's name for this map ("Spectral", "gray", "binary", "viridis", "magma", "turbo"). */
    public String matplotlibName() { return lut.name(); }

    /** The map named as matplotlib names it (case-insensitive; "grey" is "gray"). */
    public static Colormap named(String name) {
        ColorLut lut = ColorLut.named(name);
        for (Colormap c : values()) if (c.lut == lut) return c;
        throw new AssertionError(lut);
    }
}
