package dev.onestep;

import dev.onestep.image.Resize;

/** The resize filter used both ways (to the processing size and back), as torchvision's InterpolationMode. */
public enum Resample {
    /** Antialiased bilinear (the reference's default). */
    BILINEAR(Resize.Mode.BILINEAR),
    /** Antialiased bicubic. */
    BICUBIC(Resize.Mode.BICUBIC),
    /** Nearest neighbour. */
    NEAREST(Resize.Mode.NEAREST);

    private final Resize.Mode mode;

    Resample(Resize.Mode mode) { this.mode = mode; }

    Resize.Mode mode() { return mode; }
}
