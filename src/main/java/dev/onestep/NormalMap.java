package dev.onestep;

import dev.onestep.io.Npy;
import dev.onestep.io.OutputWriters;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A surface-normal map at the input image's size: three planes {@code data[(c·height + y)·width + x]} (x, y, z)
 * in [−1, 1]; camera-facing → +Z, floor → +Y, a surface facing image-right → −X. The writers go through a
 * temporary file and a rename. {@link #data()} is the map itself, not a copy.
 */
public final class NormalMap {
    private final float[] data;
    private final int width, height;
    private final StageTimes times;
    private final float[] uncertainty;

    NormalMap(float[] data, int width, int height, StageTimes times, float[] uncertainty) {
        if (data.length != 3L * width * height) throw new IllegalArgumentException(data.length + " values for 3×" + width + "×" + height);
        this.data = data;
        this.width = width;
        this.height = height;
        this.times = times;
        if (uncertainty != null && uncertainty.length != (long) width * height)
            throw new IllegalArgumentException(uncertainty.length + " uncertainty values for " + width + "×" + height);
        this.uncertainty = uncertainty;
    }

    /** Channels-first [3·H·W] values in [−1, 1]. */
    public float[] data() { return data; }

    public int width() { return width; }

    public int height() { return height; }

    /** Component c (0 = x, 1 = y, 2 = z) at column x, row y. */
    public float get(int c, int x, int y) {
        if (c < 0 || c > 2 || x < 0 || y < 0 || x >= width || y >= height)
            throw new IndexOutOfBoundsException("(" + c + ", " + x + ", " + y + ") outside 3×" + width + "×" + height);
        return data[(c * height + y) * width + x];
    }

    /** Milliseconds per pipeline stage for this image. */
    public StageTimes times() { return times; }

    /**
     * The ensemble's per-pixel spread [H·W] at this map's size, for a recipe with more than one member
     * ({@code Recipe.marigold().ensemble(k)}, k > 1); empty otherwise. The array itself, not a copy.
     */
    public Optional<float[]> uncertainty() { return Optional.ofNullable(uncertainty); }

    /** float32 .npy of shape [3, H, W]. */
    public void writeNpy(Path file) throws IOException { OutputWriters.normalsNpy(file, data, height, width); }

    /** 8-bit RGB PNG of (n + 1)/2·255. */
    public void writePng(Path file) throws IOException { OutputWriters.normalsPng(file, data, height, width); }

    /** The same PNG to a stream (left open). */
    public void writePng(OutputStream out) throws IOException { OutputWriters.writePng(out, toImage()); }

    /** The .npy [3, H, W] to a stream (left open). */
    public void writeNpy(OutputStream out) throws IOException { Npy.write(out, data, 3, height, width); }

    /** The map as {@link #writePng(Path)} draws it: 8-bit RGB of (n + 1)/2·255, truncated as the reference. */
    public BufferedImage toImage() { return OutputWriters.normalsImage(data, height, width); }

    /** The uncertainty drawn as diffusers' {@code visualize_uncertainty} (8-bit grey); empty without an ensemble. */
    public Optional<BufferedImage> uncertaintyImage() {
        return uncertainty().map(u -> OutputWriters.uncertaintyImage(u, height, width));
    }

    /** Writes {@link #uncertaintyImage()} as PNG; an IllegalStateException when the map has no uncertainty. */
    public void writeUncertaintyPng(Path file) throws IOException {
        OutputWriters.writePng(file, uncertaintyImage().orElseThrow(() -> new IllegalStateException(
                "this normal map has no uncertainty: it needs an ensemble of more than one member (Recipe.marigold().ensemble(k))")));
    }

    @Override
    public String toString() { return "NormalMap[" + width + "×" + height + "]"; }
}
