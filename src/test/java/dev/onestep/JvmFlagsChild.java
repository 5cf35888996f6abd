package dev.onestep;

import java.nio.file.Path;

/** Loads the model given as args[0] (on device args[1], default cpu) in a JVM a test starts with some flags or jars missing; prints what happened. */
public final class JvmFlagsChild {
    private JvmFlagsChild() {}

    public static void main(String[] args) {
        String device = args.length > 1 ? args[1] : "cpu";
        try (OneStep m = OneStep.load(Path.of(args[0]), OneStep.Options.defaults().withDevice(device).withProcessingRes(64))) {
            System.out.println("loaded " + m.modelDir().getFileName() + " on " + m.backendName());
        } catch (Throwable t) {
            System.out.println("failed: " + t.getClass().getName() + ": " + t.getMessage());
        }
    }
}
