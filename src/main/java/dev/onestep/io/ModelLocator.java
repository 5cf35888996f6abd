package dev.onestep.io;

import dev.onestep.io.hub.DownloadListener;
import dev.onestep.io.hub.HubCacheLayout;
import dev.onestep.io.hub.HubConfig;
import dev.onestep.io.hub.HubResolver;
import dev.onestep.io.hub.Revision;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What a --model value names: an existing folder (used as is), else a Hugging Face id ORG/NAME, optionally pinned
 * as ORG/NAME@REVISION (a branch, tag or full commit hash), looked up in the shared hub cache and downloaded when
 * missing ({@link HubResolver}). A revision given separately (--revision, Options.revision) must agree with an
 * {@code @REVISION} suffix, and applies to hub ids only.
 */
public final class ModelLocator {
    private ModelLocator() {}

    /**
     * Where a model was found.
     *
     * @param dir      the local diffusers folder (a snapshot of the hub cache for an id)
     * @param repo     the hub id, or null for a local folder
     * @param revision the revision asked for ("main" when none), or null for a local folder
     * @param commit   the snapshot's commit, or null for a local folder
     */
    public record Location(Path dir, String repo, String revision, String commit) {
        /** Whether the model came from the hub cache. */
        public boolean isHub() { return repo != null; }
    }

    /** Whether {@code s} would be treated as a hub id: it has the ORG/NAME shape and no such path exists. */
    public static boolean looksLikeId(String s) {
        return HubCacheLayout.isId(s) && !Files.exists(Path.of(s));
    }

    /** The local diffusers folder for a path or hub id (ORG/NAME or ORG/NAME@REVISION). */
    public static Path locate(String modelOrId, String variant, HubConfig hub, DownloadListener listener) {
        return find(modelOrId, null, variant, hub, listener).dir();
    }

    /** The local diffusers folder for a path or hub id at {@code revision} (null = the id's @REVISION, else main). */
    public static Path locate(String modelOrId, String revision, String variant, HubConfig hub, DownloadListener listener) {
        return find(modelOrId, revision, variant, hub, listener).dir();
    }

    /** Like {@link #locate}, with the hub id, revision and commit the folder came from. */
    public static Location find(String modelOrId, String revision, String variant, HubConfig hub, DownloadListener listener) {
        if (revision != null && revision.isBlank()) throw new WeightsException("empty revision for model " + modelOrId);
        int at = modelOrId.indexOf('@');
        if (at > 0 && !Files.exists(Path.of(modelOrId))) {
            String id = modelOrId.substring(0, at), inline = modelOrId.substring(at + 1);
            if (Files.isDirectory(Path.of(id)))
                throw new WeightsException("revision '" + inline + "' applies to Hugging Face ids only, but " + id + " is a local folder");
            if (HubCacheLayout.isId(id)) {
                if (inline.isBlank()) throw new WeightsException("empty revision after '@' in " + modelOrId);
                if (revision != null && !revision.strip().equals(inline.strip()))
                    throw new WeightsException("two revisions for " + id + ": '" + inline + "' in " + modelOrId + " and '" + revision
                            + "' given separately (--revision); give one");
                return fromHub(id, inline, variant, hub, listener);
            }
        }
        if (looksLikeId(modelOrId)) return fromHub(modelOrId, revision, variant, hub, listener);
        Path p = Path.of(modelOrId);
        if (!Files.exists(p)) throw new WeightsException("model folder " + p + " does not exist (nor is it a Hugging Face id ORG/NAME)");
        if (revision != null)
            throw new WeightsException("revision '" + revision + "' applies to Hugging Face ids only, but " + p + " is a local folder");
        if (!Files.isDirectory(p)) throw new WeightsException(p + ": not a folder (expected a diffusers model folder)");
        return new Location(p, null, null, null);
    }

    private static Location fromHub(String id, String revision, String variant, HubConfig hub, DownloadListener listener) {
        Path dir = new HubResolver(hub, listener).resolve(id, revision, variant);
        return new Location(dir, id, revision == null ? Revision.DEFAULT : revision.strip(), dir.getFileName().toString());
    }
}
