package dev.onestep.image;

import java.io.IOException;

/** An input image that cannot be used: unreadable, not an image, empty, or in a form we cannot convert. */
public class ImageException extends IOException {
    public ImageException(String message) { super(message); }

    public ImageException(String message, Throwable cause) { super(message, cause); }
}
