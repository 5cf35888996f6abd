package dev.onestep.cli;

import dev.onestep.image.ImageLoader;
import dev.onestep.image.Resize;
import dev.onestep.image.RgbImage;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.nio.file.Path;

/** How input images are read and resized: --resample, --no-exif (a mixin of `depth`, `normals` and `marigold`). */
final class ImageOptions {
    @Spec(Spec.Target.MIXEE)
    CommandSpec spec;

    @Option(names = "--resample", defaultValue = "bilinear", paramLabel = "bilinear|bicubic|nearest", descriptionKey = "resample",
            description = "resize filter, both ways (default: ${DEFAULT-VALUE})")
    String resample;

    @Option(names = "--no-exif", descriptionKey = "no-exif", description = "ignore EXIF orientation (the reference pipeline ignores it)")
    boolean noExif;

    /** Whether EXIF orientation is applied (not --no-exif). */
    boolean exif() { return !noExif; }

    /** The --resample filter; an unknown one is a usage error. */
    Resize.Mode resize() {
        try {
            return Resize.Mode.parse(resample);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
    }

    /**
     * An input image as RGB, turned upright by its EXIF orientation unless --no-exif; {@code sizeCheck} sees its size
     * before the pixels are decoded, whatever kind of file it is.
     */
    RgbImage load(Path file, ImageLoader.SizeCheck sizeCheck) throws IOException { return ImageLoader.load(file, !noExif, sizeCheck); }
}
