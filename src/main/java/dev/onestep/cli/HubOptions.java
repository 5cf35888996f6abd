package dev.onestep.cli;

import dev.onestep.io.ModelLocator;
import dev.onestep.io.hub.DownloadListener;
import dev.onestep.io.hub.HubConfig;
import picocli.CommandLine.Option;

/**
 * Which model a --model value names and whether the network may be used: --revision and --offline (a picocli
 * mixin inside {@link ModelOptions}, and on its own in `info`, which loads no backend).
 */
final class HubOptions {
    @Option(names = "--revision", paramLabel = "REV", descriptionKey = "revision",
            description = "revision of a hub model id: a branch, a tag, refs/pr/N (a pull request) or a full 40-hex commit; "
                    + "default main (ORG/NAME@REV works too)")
    String revision;

    @Option(names = "--offline", descriptionKey = "offline",
            description = "never use the network (as HF_HUB_OFFLINE=1): the model must be cached or local")
    boolean offline;

    /** The hub settings of this process, with --offline applied. */
    HubConfig hub() {
        HubConfig hub = HubConfig.fromEnvironment();
        return offline ? hub.withOffline(true) : hub;
    }

    /** Where a path or hub id (cached, else downloaded unless offline) is, at --revision. */
    ModelLocator.Location locate(String modelOrId, String variant, DownloadListener listener) {
        return ModelLocator.find(modelOrId, revision, variant, hub(), listener);
    }
}
