package dev.onestep.io;

import dev.onestep.io.hub.DownloadListener;
import dev.onestep.io.hub.HubCacheLayout;
import dev.onestep.io.hub.HubConfig;
import dev.onestep.io.hub.HubResolver;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What a --model value names: an existing folder (used as is), else a Hugging Face id ORG/NAME, looked up in
 * the shared hub cache and downloaded when missing ({@link HubResolver}).
 */
public final class ModelLocator {
    private ModelLocator() {}

    /** Whether {@code s} would be treated as a hub id: it has the ORG/NAME shape and no such path exists. */
    public static boolean looksLikeId(String s) {
        return HubCacheLayout.isId(s) && !Files.exists(Path.of(s));
    }

    /** The local diffusers folder for a path or hub id. */
    public static Path locate(String modelOrId, String variant, HubConfig hub, DownloadListener listener) {
        if (looksLikeId(modelOrId)) return new HubResolver(hub, listener).resolve(modelOrId, variant);
        Path p = Path.of(modelOrId);
        if (!Files.exists(p)) throw new WeightsException("model folder " + p + " does not exist (nor is it a Hugging Face id ORG/NAME)");
        if (!Files.isDirectory(p)) throw new WeightsException(p + ": not a folder (expected a diffusers model folder)");
        return p;
    }
}
