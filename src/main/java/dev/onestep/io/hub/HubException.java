package dev.onestep.io.hub;

import dev.onestep.io.WeightsException;

/** A model could not be found in the cache or fetched from the hub; the message says what to do. */
public class HubException extends WeightsException {
    public HubException(String message) { super(message); }

    public HubException(String message, Throwable cause) { super(message, cause); }
}
