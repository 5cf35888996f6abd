package dev.onestep;

import java.nio.file.Path;

/** Loads the model given as args[0] in a JVM a test starts with some flags missing; prints what happened. */
public final class JvmFlagsChild {
    private JvmFlagsChild() {}

    public static void main(String[] args) {
        try (OneStep m = OneStep.load(Path.of(args[0]), OneStep.Options.defaults().withDevice("cpu").withProcessingRes(64))) {
            System.out.println("loaded " + m.modelDir().getFileName());
        } catch (Throwable t) {
            System.out.println("failed: " + t.getClass().getName() + ": " + t.getMessage());
        }
    }
}
