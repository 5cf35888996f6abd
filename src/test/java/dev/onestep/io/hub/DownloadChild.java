package dev.onestep.io.hub;

import java.nio.file.Path;

/** A separate JVM that downloads a model (args: cache endpoint id) and prints the snapshot; killed by a test mid-way. */
public final class DownloadChild {
    private DownloadChild() {}

    public static void main(String[] args) {
        Path snap = new HubResolver(new HubConfig(Path.of(args[0]), args[1], null, false), DownloadListener.NONE).resolve(args[2], null);
        System.out.println(snap);
    }
}
