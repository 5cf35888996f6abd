package dev.onestep.io.hub;

import dev.onestep.io.Json;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URISyntaxException;
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
 * only for the GET, and the token is sent to the endpoint's origin only. Every name a response carries is checked
 * ({@link HubNames}) before anything uses it, requests answered 429 or 5xx are tried again after a wait, and URL
 * problems end in a one-line {@link HubException}. A revision goes into the URL as one
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

    /**
     * A client for {@code config.endpoint()}.
     *
     * @throws HubException when HF_ENDPOINT is no http(s) URL with a host (a {@code file:} URL, spaces, a bad port)
     */
    public HubClient(HubConfig config) {
        if (config.offline()) throw new IllegalStateException("HF_HUB_OFFLINE is set: no hub client may be created");
        this.config = config;
        this.endpoint = checkedUri(config.endpoint() + "/", "HF_ENDPOINT '" + HubNames.printable(config.endpoint()) + "'");
        this.http = HttpClient.newBuilder().connectTimeout(config.downloadTimeout())
                .followRedirects(HttpClient.Redirect.NEVER).build();
    }

    public String endpoint() { return config.endpoint(); }

    /** HF_HUB_DOWNLOAD_TIMEOUT: the longest a file transfer may go without a byte. */
    public java.time.Duration downloadTimeout() { return config.downloadTimeout(); }

    /** The limits this client applies to servers. */
    public HubConfig.Limits limits() { return config.limits(); }

    /**
     * GET {endpoint}/api/models/{id}/revision/{revision}: the commit sha and the list of files. The listing is read
     * up to {@link HubConfig.Limits#maxListingBytes}; its commit must be a full hash and every file name a plain
     * relative path ({@link HubNames}).
     */
    public RepoInfo repoInfo(String id, String revision) throws IOException {
        URI uri = uri(config.endpoint() + "/api/models/" + id + "/revision/" + enc(revision));
        HttpResponse<InputStream> r = send(request(uri, "GET", -1), TimedBody.handler(config.etagTimeout()), true, id, revision, "");
        byte[] body;
        try (InputStream in = r.body()) {
            body = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, config.limits().maxListingBytes() + 1));
        }
        if (body.length > config.limits().maxListingBytes())
            throw new HubException(uri + ": the file listing is larger than " + config.limits().maxListingBytes() + " bytes; refusing it");
        Map<String, Object> json;
        try {
            json = Json.parseObject(new String(body, StandardCharsets.UTF_8));
        } catch (IllegalArgumentException e) {
            throw new IOException(uri + ": not a JSON model description: " + e.getMessage(), e);
        }
        List<String> files = new ArrayList<>();
        if (json.get("siblings") instanceof List<?> sib)
            for (Object o : sib)
                if (o instanceof Map<?, ?> m && m.get("rfilename") instanceof String f) files.add(HubNames.repoPath(f, uri + " (file listing)"));
        Object sha = json.get("sha");
        String commit = sha == null ? null : HubNames.commit(sha instanceof String str ? str : String.valueOf(sha), uri + " (file listing)");
        return new RepoInfo(commit, files);
    }

    /** HEAD {endpoint}/{id}/resolve/{revision}/{path}, following relative redirects only. */
    public FileMeta head(String id, String revision, String path) throws IOException {
        URI uri = fileUri(id, revision, path);
        HttpResponse<Void> r = send(request(uri, "HEAD", -1), HttpResponse.BodyHandlers.discarding(), false, id, revision, path);
        String commit = header(r, "X-Repo-Commit");
        if (commit != null) commit = HubNames.commit(commit.strip(), path + ": X-Repo-Commit of " + uri);
        String etag = header(r, "X-Linked-Etag");
        if (etag == null) etag = header(r, "ETag");
        long size = parseLong(header(r, "X-Linked-Size"));
        if (size < 0) size = parseLong(header(r, "Content-Length"));
        if (etag == null) throw new IOException(uri + ": the server sent no ETag; cannot place the file in the cache");
        if (size > config.limits().maxFileBytes())
            throw new HubException(path + ": the server announces " + size + " bytes, more than the " + config.limits().maxFileBytes()
                    + " bytes a file may have; refusing to download it");
        return new FileMeta(commit, HubNames.blobName(normaliseEtag(etag), path), size);
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
        return uri(config.endpoint() + "/" + id + "/resolve/" + enc(revision) + p);
    }

    /** A URL built from the endpoint: checked like the endpoint itself. */
    private URI uri(String s) { return checkedUri(s, "HF_ENDPOINT '" + HubNames.printable(config.endpoint()) + "'"); }

    /** {@code s} as an http(s) URI with a host and a valid port, or a one-line HubException saying what is wrong. */
    static URI checkedUri(String s, String what) {
        URI u;
        try {
            u = new URI(s);
        } catch (URISyntaxException e) {
            throw new HubException(what + " is not a valid URL: " + e.getReason() + " at index " + e.getIndex());
        }
        return checkedUri(u, what);
    }

    private static URI checkedUri(URI u, String what) {
        String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https"))
            throw new HubException(what + " is not an http or https URL" + (scheme.isEmpty() ? "" : " (scheme " + HubNames.printable(scheme) + ")"));
        if (u.getHost() == null || u.getHost().isEmpty())
            throw new HubException(what + " has no valid host and port (authority '" + HubNames.printable(u.getRawAuthority()) + "')");
        if (u.getPort() > 65535) throw new HubException(what + " has port " + u.getPort() + ", which is not a TCP port");
        return u;
    }

    /** A metadata request (file list, HEAD): the response must come within HF_HUB_ETAG_TIMEOUT. */
    private HttpRequest request(URI uri, String method, long from) {
        return request(uri, method, from, config.etagTimeout());
    }

    private HttpRequest request(URI uri, String method, long from, Duration timeout) {
        HttpRequest.Builder b;
        try {
            b = HttpRequest.newBuilder(uri);
        } catch (IllegalArgumentException e) {
            throw new HubException("cannot request " + HubNames.printable(uri.toString()) + ": " + e.getMessage());
        }
        b.method(method, HttpRequest.BodyPublishers.noBody())
                .timeout(timeout).header("User-Agent", "onestep/0.1; java")
                .header("Accept-Encoding", "identity");
        if (from > 0) b.header("Range", "bytes=" + from + "-");
        if (config.token() != null && sameOrigin(uri, endpoint)) b.header("Authorization", "Bearer " + config.token());
        return b.build();
    }

    /**
     * Sends {@code req}, following redirects by hand (at most {@link #MAX_REDIRECTS}; each target checked to be an
     * http(s) URL, the token kept for the endpoint's own origin) and trying again, after a wait, a request answered
     * 429 or 5xx ({@link HubConfig.Limits}).
     */
    private <T> HttpResponse<T> send(HttpRequest req, HttpResponse.BodyHandler<T> body, boolean followAbsolute,
                                     String id, String revision, String path) throws IOException {
        HttpRequest current = req;
        int hops = 0, retries = 0;
        while (true) {
            HttpResponse<T> r;
            try {
                r = http.send(current, body);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted while talking to " + current.uri().getHost());
            } catch (IllegalArgumentException e) {
                throw new HubException("cannot request " + HubNames.printable(current.uri().toString()) + ": " + e.getMessage());
            }
            int s = r.statusCode();
            if (s >= 300 && s < 400 && s != 304) {
                String loc = header(r, "Location");
                if (loc == null) {
                    closeBody(r);
                    throw new IOException(current.uri() + ": redirect " + s + " without a Location");
                }
                String where = current.uri() + ": the redirect to '" + HubNames.printable(loc) + "'";
                URI target;
                try {
                    target = new URI(loc.strip());
                } catch (URISyntaxException e) {
                    closeBody(r);
                    throw new HubException(where + " is not a valid URL (" + e.getReason() + ")");
                }
                boolean relative = !target.isAbsolute();
                URI next = checkedUri(current.uri().resolve(target), where);
                if (!relative && !followAbsolute) return r; // HEAD on an LFS file: its metadata is on the redirect
                closeBody(r);
                if (++hops > MAX_REDIRECTS)
                    throw new HubException(req.uri() + ": more than " + MAX_REDIRECTS + " redirects (a redirect loop?); last to " + next);
                current = request(next, current.method(), rangeStart(current), current.timeout().orElse(config.etagTimeout()));
                continue;
            }
            if ((s == 429 || s >= 500) && retries < config.limits().retries()) {
                Duration wait = retryWait(header(r, "Retry-After"), retries++);
                closeBody(r);
                pause(wait, current.uri());
                continue;
            }
            if (s >= 400) {
                closeBody(r);
                throw new HubException(statusMessage(s, header(r, "X-Error-Code"), id, revision, path, current.uri())
                        + (retries > 0 ? " (after " + retries + " retries)" : ""));
            }
            return r;
        }
    }

    private static long rangeStart(HttpRequest r) {
        String range = r.headers().firstValue("Range").orElse(null);
        return range == null ? -1 : Long.parseLong(range.replaceAll("[^0-9]", ""));
    }

    /**
     * How long to wait before retry number {@code n} (0-based): the server's Retry-After (seconds or an HTTP date)
     * when it sends one, else backoff × 2^n up to 8 × backoff; never more than maxRetryAfter.
     */
    Duration retryWait(String retryAfter, int n) {
        HubConfig.Limits l = config.limits();
        Duration wait = l.backoff().multipliedBy(1L << Math.min(n, 3));
        if (retryAfter != null) {
            String v = retryAfter.strip();
            try {
                if (v.matches("\\d{1,18}")) wait = Duration.ofSeconds(Long.parseLong(v));
                else wait = Duration.between(java.time.Instant.now(), java.time.ZonedDateTime.parse(v, java.time.format.DateTimeFormatter.RFC_1123_DATE_TIME).toInstant());
            } catch (RuntimeException ignored) {
                // an unreadable Retry-After: the backoff applies
            }
        }
        if (wait.isNegative()) wait = Duration.ZERO;
        return wait.compareTo(l.maxRetryAfter()) > 0 ? l.maxRetryAfter() : wait;
    }

    private static void pause(Duration d, URI uri) throws IOException {
        try {
            Thread.sleep(d);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while waiting to retry " + uri.getHost());
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
            long v = Long.parseLong(s.strip());
            return v < 0 ? -1 : v;
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** Same scheme, host and port: where the token may go (never to a CDN, another host, or plain http of the same host). */
    private static boolean sameOrigin(URI a, URI b) {
        return a.getHost() != null && a.getHost().toLowerCase(Locale.ROOT).equals(b.getHost() == null ? null : b.getHost().toLowerCase(Locale.ROOT))
                && port(a) == port(b) && a.getScheme().equalsIgnoreCase(b.getScheme());
    }

    private static int port(URI u) {
        return u.getPort() >= 0 ? u.getPort() : "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }
}
