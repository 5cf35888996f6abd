package dev.onestep.io.hub;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Turns a hub id and a revision into a local diffusers folder: a complete snapshot already in the cache is used
 * without any network access (so a second run, or an offline machine, needs none); otherwise, unless HF_HUB_OFFLINE
 * is set, the files inference needs ({@link FileSelection}) are downloaded into the shared cache
 * ({@link HubCacheLayout}, {@link Download}) and refs/REVISION is pointed at the commit once everything is in place.
 *
 * <p>Revisions ({@link Revision}) as huggingface_hub's snapshot_download takes them: a branch or tag is found in the
 * cache through refs/NAME and otherwise resolved to a commit by {@code GET /api/models/ID/revision/NAME}; a full
 * commit hash is snapshots/COMMIT, and no ref is written for it. Like main, a cached branch is not re-checked
 * against the hub once its snapshot is complete.
 */
public final class HubResolver {
    private final HubConfig config;
    private final DownloadListener listener;

    public HubResolver(HubConfig config, DownloadListener listener) {
        this.config = config;
        this.listener = listener == null ? DownloadListener.NONE : listener;
    }

    /** The snapshot folder for revision main of {@code id}, downloading what is missing when allowed. */
    public Path resolve(String id, String variant) {
        return resolve(id, null, variant);
    }

    /**
     * The snapshot folder for {@code revision} (null = main) of {@code id}, downloading what is missing when allowed.
     * The commit of a revision that was given (even "main") is reported through
     * {@link DownloadListener#revisionResolved}.
     */
    public Path resolve(String id, String revision, String variant) {
        Revision rev;
        try {
            rev = Revision.of(id, revision);
        } catch (IllegalArgumentException e) {
            throw new HubException(e.getMessage());
        }
        Path snapshot = resolve(new HubCacheLayout(config.cacheDir(), id), rev, variant);
        if (revision != null) listener.revisionResolved(id, rev.name(), snapshot.getFileName().toString());
        return snapshot;
    }

    private Path resolve(HubCacheLayout layout, Revision rev, String variant) {
        String id = layout.id();
        Path cached;
        try {
            cached = layout.cachedSnapshot(rev.name());
        } catch (IOException e) {
            throw new HubException(layout.repoDir() + ": unreadable Hugging Face cache entry: " + e.getMessage(), e);
        }
        if (cached != null && isComplete(cached, variant)) return cached;
        if (config.offline()) {
            if (cached != null) return cached; // let the model folder say precisely what is missing
            throw new HubException(notCached(layout, rev, "HF_HUB_OFFLINE is set, so nothing is downloaded"));
        }
        try {
            return download(layout, rev, variant);
        } catch (IOException e) {
            if (!isNetworkFailure(e)) throw new HubException(label(id, rev) + ": download failed: " + e.getMessage(), e);
            if (cached != null) {
                listener.downloadNote("cannot reach " + config.endpoint() + " (" + e + "); using the cached snapshot " + cached);
                return cached;
            }
            throw new HubException(notCached(layout, rev, "the hub at " + config.endpoint() + " cannot be reached (" + e + ")"), e);
        }
    }

    private Path download(HubCacheLayout layout, Revision rev, String variant) throws IOException {
        String id = layout.id();
        HubClient client = new HubClient(config);
        HubClient.RepoInfo info = client.repoInfo(id, rev.name());
        if (FileSelection.weightsFile(Set.copyOf(info.files()), "unet", variant) == null)
            throw new HubException(label(id, rev) + " has no UNet weights (unet/diffusion_pytorch_model*.safetensors) among its "
                    + info.files().size() + " files; OneStep needs a diffusers checkpoint in safetensors format");
        String commit = info.sha();
        if (rev.isCommit()) {
            if (commit != null && !commit.equals(rev.name()))
                throw new IOException("the hub answered commit " + commit + " for commit " + rev);
            commit = rev.name();
        }
        // small files first: their shard indexes say which weight files to fetch, so the total is known up front
        commit = fetchAll(client, layout, rev, commit, FileSelection.smallFiles(info.files(), variant), false);
        Path snapshot = layout.snapshot(commit);
        List<String> weights = FileSelection.weightFiles(info.files(), variant, snapshot);
        for (String w : weights)
            if (!info.files().contains(w))
                throw new HubException(label(id, rev) + ": a sharded index names " + w + ", which the repository's file listing does not have");
        commit = fetchAll(client, layout, rev, commit, weights, true);
        // the ref comes last: a ref always names a complete snapshot; a commit needs none (huggingface_hub writes none)
        if (!rev.isCommit()) layout.writeRef(rev.name(), commit);
        return layout.snapshot(commit);
    }

    /** Fetches and links every file not yet in the snapshot; returns the commit (from the listing or X-Repo-Commit). */
    private String fetchAll(HubClient client, HubCacheLayout layout, Revision rev, String commit, List<String> files,
                            boolean announce) throws IOException {
        List<String> todo = new ArrayList<>();
        for (String f : files) if (commit == null || !Files.isRegularFile(layout.snapshot(commit).resolve(f))) todo.add(f);
        if (todo.isEmpty()) return commit;
        List<HubClient.FileMeta> metas = new ArrayList<>();
        long total = 0;
        for (String f : todo) {
            HubClient.FileMeta m = client.head(layout.id(), commit != null ? commit : rev.name(), f);
            if (commit == null) commit = m.commit();
            if (commit == null) throw new IOException(layout.id() + ": the hub named no commit (no sha, no X-Repo-Commit)");
            metas.add(m);
            total = total < 0 || m.size() < 0 ? -1 : total + m.size();
        }
        checkSpace(layout, todo, metas);
        if (announce) listener.downloadStarted(label(layout.id(), rev), todo.size(), total);
        for (int i = 0; i < todo.size(); i++) {
            HubClient.FileMeta m = metas.get(i);
            Download.fetch(client, layout, commit, todo.get(i), m, listener);
            layout.link(commit, todo.get(i), m.etag());
        }
        return commit;
    }

    /**
     * Fails before any transfer when the announced sizes of what is still missing (less the blobs and partial files
     * already there) exceed the cache file system's usable space, so a download never ends in a full disk.
     */
    private static void checkSpace(HubCacheLayout layout, List<String> todo, List<HubClient.FileMeta> metas) throws IOException {
        long need = 0;
        Set<String> seen = new HashSet<>();
        for (HubClient.FileMeta m : metas) {
            if (m.size() < 0 || !seen.add(m.etag())) continue;
            Path blob = layout.blob(m.etag()), part = layout.incomplete(m.etag());
            long have = Files.isRegularFile(blob) ? m.size() : Files.isRegularFile(part) ? Math.min(Files.size(part), m.size()) : 0;
            need = Math.addExact(need, m.size() - have);
        }
        if (need == 0) return;
        Files.createDirectories(layout.repoDir());
        long free = Files.getFileStore(layout.repoDir()).getUsableSpace();
        if (need > free)
            throw new HubException(layout.id() + ": the " + todo.size() + " files still to download need " + need + " bytes, but the cache's file system ("
                    + layout.repoDir() + ") has only " + free + " bytes free; free some space or point HF_HUB_CACHE at a larger disk");
    }

    /** ID for main, ID@REVISION for any other revision. */
    private static String label(String id, Revision rev) {
        return rev.isDefault() ? id : id + "@" + rev;
    }

    /** Whether a snapshot has configs and weights (every shard included) for the three networks in the variant. */
    static boolean isComplete(Path snapshot, String variant) {
        Set<String> have = new HashSet<>();
        try (Stream<Path> s = Files.walk(snapshot)) {
            s.filter(Files::isRegularFile).forEach(p -> have.add(snapshot.relativize(p).toString().replace('\\', '/')));
        } catch (IOException | UncheckedIOException e) {
            return false;
        }
        if (!have.contains("scheduler/scheduler_config.json")) return false;
        for (String c : FileSelection.NETWORKS) {
            String w = FileSelection.weightsFile(have, c, variant);
            if (!have.contains(c + "/config.json") || w == null) return false;
            if (variant != null && !w.contains("." + variant + ".")) return false;
            if (w.endsWith(".json")) {
                try {
                    for (String shard : FileSelection.weightFiles(List.copyOf(have), variant, snapshot))
                        if (!have.contains(shard)) return false;
                } catch (RuntimeException e) {
                    return false;
                }
            }
        }
        return true;
    }

    private static boolean isNetworkFailure(IOException e) {
        for (Throwable t = e; t != null; t = t.getCause())
            if (t instanceof ConnectException || t instanceof java.net.UnknownHostException || t instanceof HttpConnectTimeoutException
                    || t instanceof HttpTimeoutException || t instanceof java.nio.channels.UnresolvedAddressException
                    || t instanceof java.net.NoRouteToHostException)
                return true;
        return false;
    }

    /** The one message for a model that is neither cached nor downloadable: what is missing, what to fetch, where to put it. */
    private String notCached(HubCacheLayout layout, Revision rev, String why) {
        String id = layout.id();
        String folder = "models--" + id.replace("/", "--");
        if (rev.isDefault())
            return "model " + id + " is not in the Hugging Face cache (" + config.cacheDir() + ") and " + why + ". "
                    + "On a machine with network access run `huggingface-cli download " + id + " --exclude '*.bin' '*.ckpt'` "
                    + "(or `hf download " + id + "`), then copy its cache folder " + folder + " into " + config.cacheDir()
                    + " (or point HF_HOME / HF_HUB_CACHE at the cache that holds it); or download the repository's files and pass "
                    + "--model with that local diffusers folder.";
        String missing;
        if (rev.isCommit()) {
            missing = "there is no snapshot " + layout.snapshot(rev.name());
        } else {
            String c;
            try {
                c = layout.readRef(rev.name());
            } catch (IOException e) {
                c = null;
            }
            missing = c == null ? "there is no ref " + layout.ref(rev.name())
                    : "ref " + layout.ref(rev.name()) + " names commit " + c + ", but there is no snapshot " + layout.snapshot(c);
        }
        return "revision '" + rev + "' of model " + id + " is not in the Hugging Face cache (" + config.cacheDir() + "): " + missing
                + "; and " + why + ". On a machine with network access run `huggingface-cli download " + id + " --revision " + rev
                + " --exclude '*.bin' '*.ckpt'`, then copy its cache folder " + folder + " into " + config.cacheDir()
                + " (or point HF_HOME / HF_HUB_CACHE at the cache that holds it); or download the repository's files at that "
                + "revision and pass --model with that local diffusers folder.";
    }
}
