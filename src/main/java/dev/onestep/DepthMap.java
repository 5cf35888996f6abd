package dev.onestep;

import dev.onestep.io.Npy;
import dev.onestep.io.OutputWriters;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A depth map at the input image's size: {@code data[y·width + x]} in [0, 1], affine-invariant (relative),
 * larger = farther. The writers go through a temporary file and a rename, so a failed write leaves no file.
 * {@link #data()} is the map itself, not a copy.
 */
public final class DepthMap {
    private final float[] data;
    private final int width, height;
    private final StageTimes times;
    private final float[] uncertainty;

    DepthMap(float[] data, int width, int height, StageTimes times, float[] uncertainty) {
        if (data.length != (long) width * height) throw new IllegalArgumentException(data.length + " values for " + width + "×" + height);
        this.data = data;
        this.width = width;
        this.height = height;
        this.times = times;
        if (uncertainty != null && uncertainty.length != (long) width * height)
            throw new IllegalArgumentException(uncertainty.length + " uncertainty values for " + width + "×" + height);
        this.uncertainty = uncertainty;
    }

    /** Row-major [H·W] values in [0, 1]. */
    public float[] data() { return data; }

    public int width() { return width; }

    public int height() { return height; }

    /** The depth at column x, row y. */
    public float get(int x, int y) {
        if (x < 0 || y < 0 || x >= width || y >= height) throw new IndexOutOfBoundsException("(" + x + ", " + y + ") outside " + width + "×" + height);
        return data[y * width + x];
    }

    /** Milliseconds per pipeline stage for this image. */
    public StageTimes times() { return times; }

    /**
     * The ensemble's per-pixel spread [H·W] at this map's size, for a recipe with more than one member
     * ({@code Recipe.marigold().ensemble(k)}, k > 1); empty otherwise. The array itself, not a copy.
     */
    public Optional<float[]> uncertainty() { return Optional.ofNullable(uncertainty); }

    /** float32 .npy of shape [H, W]. */
    public void writeNpy(Path file) throws IOException { OutputWriters.depthNpy(file, data, height, width); }

    /** 16-bit grey PNG of round(d·65535). */
    public void writePng16(Path file) throws IOException { OutputWriters.depthPng16(file, data, height, width); }

    /** 8-bit RGB PNG with matplotlib's Spectral colour map on [0, 1]. */
    public void writeColor(Path file) throws IOException { writeColor(file, Colormap.SPECTRAL); }

    /** 8-bit RGB PNG with {@code map} on [0, 1]. */
    public void writeColor(Path file, Colormap map) throws IOException { OutputWriters.writePng(file, toImage(map)); }

    /** The same PNG to a stream (left open). */
    public void writeColor(OutputStream out, Colormap map) throws IOException { OutputWriters.writePng(out, toImage(map)); }

    /** The 16-bit PNG to a stream (left open). */
    public void writePng16(OutputStream out) throws IOException { OutputWriters.writePng(out, OutputWriters.depth16Image(data, height, width)); }

    /** The .npy to a stream (left open). */
    public void writeNpy(OutputStream out) throws IOException { Npy.write(out, data, height, width); }

    /** The map drawn with Spectral, as {@link #writeColor(Path)} writes it. */
    public BufferedImage toImage() { return toImage(Colormap.SPECTRAL); }

    /** The map drawn with {@code map} (values clipped to [0, 1]; NaN black), an 8-bit RGB image of width × height. */
    public BufferedImage toImage(Colormap map) { return OutputWriters.depthImage(data, height, width, map.lut()); }

    /**
     * The uncertainty drawn as diffusers' {@code visualize_uncertainty} draws it (8-bit grey, the 95th percentile
     * white); empty without an ensemble.
     */
    public Optional<BufferedImage> uncertaintyImage() {
        return uncertainty().map(u -> OutputWriters.uncertaintyImage(u, height, width));
    }

    /** Writes {@link #uncertaintyImage()} as PNG; an IllegalStateException when the map has no uncertainty. */
    public void writeUncertaintyPng(Path file) throws IOException {
        OutputWriters.writePng(file, uncertaintyImage().orElseThrow(() -> new IllegalStateException(
                "this depth map has no uncertainty: it needs an ensemble of more than one member (Recipe.marigold().ensemble(k))")));
    }

    @Override
    public String toString() { return "DepthMap[" + width + "×" + height + "]"; }
}
