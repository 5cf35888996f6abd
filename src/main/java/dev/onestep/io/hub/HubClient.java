package dev.onestep.io.hub;

import dev.onestep.io.Json;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The three hub calls a download needs, over java.net.http: the file list of a revision
 * ({@code GET /api/models/ID/revision/REV}), a file's metadata ({@code HEAD /ID/resolve/REV/PATH}: X-Repo-Commit,
 * X-Linked-Etag or ETag, X-Linked-Size or Content-Length) and its bytes ({@code GET}, optionally from an offset
 * with {@code Range}). Redirects are followed by hand: relative ones always, absolute ones (the CDN for LFS files)
 * only for the GET, and the token is sent to the endpoint's host only. A revision goes into the URL as one
 * percent-encoded segment (refs/pr/1 → refs%2Fpr%2F1), as huggingface_hub's quote(revision, safe="").
 */
public final class HubClient {
    /** A revision's commit and file names (rfilename). */
    public record RepoInfo(String sha, List<String> files) {}

    /** What HEAD says about a file: commit, etag (quotes and W/ removed), size (−1 if unknown). */
    public record FileMeta(String commit, String etag, long size) {
        /** Whether the etag is a sha256 (an LFS file), which the finished file must hash to. */
        public boolean isSha256() { return etag != null && etag.matches("[0-9a-f]{64}"); }

        /** Whether the etag is a git blob sha1 (a regular git file). */
        public boolean isGitSha1() { return etag != null && etag.matches("[0-9a-f]{40}"); }
    }

    private static final int MAX_REDIRECTS = 5;
    private final HubConfig config;
    private final HttpClient http;
    private final URI endpoint;

    public HubClient(HubConfig config) {
        if (config.offline()) throw new IllegalStateException("HF_HUB_OFFLINE is set: no hub client may be created");
        this.config = config;
        this.endpoint = URI.create(config.endpoint() + "/");
        this.http = HttpClient.newBuilder().connectTimeout(config.downloadTimeout())
                .followRedirects(HttpClient.Redirect.NEVER).build();
    }

    public String endpoint() { return config.endpoint(); }

    /** HF_HUB_DOWNLOAD_TIMEOUT: the longest a file transfer may go without a byte. */
    public java.time.Duration downloadTimeout() { return config.downloadTimeout(); }

    /** GET {endpoint}/api/models/{id}/revision/{revision}: the commit sha and the list of files. */
    public RepoInfo repoInfo(String id, String revision) throws IOException {
        URI uri = URI.create(config.endpoint() + "/api/models/" + id + "/revision/" + enc(revision));
        HttpResponse<String> r = send(request(uri, "GET", -1), HttpResponse.BodyHandlers.ofString(), true, id, revision, "");
        Map<String, Object> json;
        try {
            json = Json.parseObject(r.body());
        } catch (IllegalArgumentException e) {
            throw new IOException(uri + ": not a JSON model description: " + e.getMessage(), e);
        }
        List<String> files = new ArrayList<>();
        if (json.get("siblings") instanceof List<?> sib)
            for (Object o : sib) if (o instanceof Map<?, ?> m && m.get("rfilename") instanceof String f) files.add(f);
        String sha = json.get("sha") instanceof String s ? s : null;
        return new RepoInfo(sha, files);
    }

    /** HEAD {endpoint}/{id}/resolve/{revision}/{path}, following relative redirects only. */
    public FileMeta head(String id, String revision, String path) throws IOException {
        URI uri = fileUri(id, revision, path);
        HttpResponse<Void> r = send(request(uri, "HEAD", -1), HttpResponse.BodyHandlers.discarding(), false, id, revision, path);
        String commit = header(r, "X-Repo-Commit");
        String etag = header(r, "X-Linked-Etag");
        if (etag == null) etag = header(r, "ETag");
        long size = parseLong(header(r, "X-Linked-Size"));
        if (size < 0) size = parseLong(header(r, "Content-Length"));
        if (etag == null) throw new IOException(uri + ": the server sent no ETag; cannot place the file in the cache");
        return new FileMeta(commit, normaliseEtag(etag), size);
    }

    /**
     * GET the file from byte {@code from} (0 = all), following every redirect. The caller reads and closes the
     * body; status 206 means the Range was honoured, 200 that the whole file comes. The headers must come within
     * HF_HUB_DOWNLOAD_TIMEOUT, and a read of the body that gets no byte for that long throws
     * {@link TimedBody.Stalled} (an {@link java.net.http.HttpTimeoutException}) and drops the connection.
     */
    public HttpResponse<InputStream> get(String id, String revision, String path, long from) throws IOException {
        return send(request(fileUri(id, revision, path), "GET", from, config.downloadTimeout()), TimedBody.handler(config.downloadTimeout()), true, id, revision, path);
    }

    private URI fileUri(String id, String revision, String path) {
        StringBuilder p = new StringBuilder();
        for (String seg : path.split("/")) p.append('/').append(enc(seg));
        return URI.create(config.endpoint() + "/" + id + "/resolve/" + enc(revision) + p);
    }

    /** A metadata request (file list, HEAD): the response must come within HF_HUB_ETAG_TIMEOUT. */
    private HttpRequest request(URI uri, String method, long from) {
        return request(uri, method, from, config.etagTimeout());
    }

    private HttpRequest request(URI uri, String method, long from, Duration timeout) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri).method(method, HttpRequest.BodyPublishers.noBody())
                .timeout(timeout).header("User-Agent", "onestep/0.1; java")
                .header("Accept-Encoding", "identity");
        if (from > 0) b.header("Range", "bytes=" + from + "-");
        if (config.token() != null && sameHost(uri, endpoint)) b.header("Authorization", "Bearer " + config.token());
        return b.build();
    }

    private <T> HttpResponse<T> send(HttpRequest req, HttpResponse.BodyHandler<T> body, boolean followAbsolute,
                                     String id, String revision, String path) throws IOException {
        HttpRequest current = req;
        for (int hop = 0; ; hop++) {
            HttpResponse<T> r;
            try {
                r = http.send(current, body);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while talking to " + current.uri().getHost(), e);
            }
            int s = r.statusCode();
            if (s >= 300 && s < 400 && s != 304) {
                String loc = header(r, "Location");
                if (loc == null) throw new IOException(current.uri() + ": redirect " + s + " without a Location");
                URI next = current.uri().resolve(loc);
                boolean relative = !URI.create(loc).isAbsolute();
                if (!relative && !followAbsolute) return r; // HEAD on an LFS file: its metadata is on the redirect
                if (hop >= MAX_REDIRECTS) throw new IOException(req.uri() + ": too many redirects");
                closeBody(r);
                String range = current.headers().firstValue("Range").orElse(null);
                current = request(next, current.method(), range == null ? -1 : Long.parseLong(range.replaceAll("[^0-9]", "")),
                        current.timeout().orElse(config.etagTimeout()));
                continue;
            }
            if (s >= 400) {
                closeBody(r);
                throw new HubException(statusMessage(s, header(r, "X-Error-Code"), id, revision, path, current.uri()));
            }
            return r;
        }
    }

    private String statusMessage(int s, String errorCode, String id, String revision, String path, URI uri) {
        String what = path.isEmpty() ? "model " + id : id + "/" + path;
        // the hub names the failure in X-Error-Code, as huggingface_hub's hf_raise_for_status reads it
        if ("RevisionNotFound".equals(errorCode))
            return "model " + id + " has no revision '" + revision + "' on " + config.endpoint() + " (HTTP " + s + ", Revision Not Found); "
                    + "check the branch, tag or commit name (a commit must be the full 40-character hash)";
        return switch (s) {
            case 401, 403 -> what + ": access denied (HTTP " + s + ") by " + uri.getHost()
                    + (config.token() == null ? "; for a gated or private model set HF_TOKEN to an access token" : "; check that HF_TOKEN grants access");
            case 404 -> what + ": not found on " + config.endpoint() + " (HTTP 404); check the model id";
            case 416 -> what + ": the server refused to resume (HTTP 416)";
            default -> what + ": HTTP " + s + " from " + uri;
        };
    }

    private static void closeBody(HttpResponse<?> r) {
        if (r.body() instanceof InputStream in) {
            try {
                in.close();
            } catch (IOException ignored) {
                // nothing to salvage from a redirect or error body
            }
        }
    }

    static String header(HttpResponse<?> r, String name) {
        return r.headers().firstValue(name).orElse(null);
    }

    /** ETag without the weak prefix and quotes, as huggingface_hub's _normalize_etag. */
    static String normaliseEtag(String etag) {
        String e = etag.strip();
        if (e.startsWith("W/")) e = e.substring(2);
        if (e.length() >= 2 && e.startsWith("\"") && e.endsWith("\"")) e = e.substring(1, e.length() - 1);
        return e;
    }

    private static long parseLong(String s) {
        if (s == null) return -1;
        try {
            return Long.parseLong(s.strip());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static boolean sameHost(URI a, URI b) {
        return a.getHost() != null && a.getHost().toLowerCase(Locale.ROOT).equals(b.getHost() == null ? null : b.getHost().toLowerCase(Locale.ROOT))
                && a.getPort() == b.getPort();
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }
}
