package dev.onestep.io;

/** A checkpoint or model folder that cannot be used: names the file and what is wrong with it. */
public class WeightsException extends RuntimeException {
    public WeightsException(String message) { super(message); }

    public WeightsException(String message, Throwable cause) { super(message, cause); }
}
