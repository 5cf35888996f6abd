package dev.onestep.testutil;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.Stream;

/**
 * A loopback stand-in for the Hugging Face hub serving one model folder as repository {@code id}: the revision
 * listing, HEAD/GET on /ID/resolve/REV/PATH (LFS files — *.safetensors — answer with a 302 to /cdn/PATH carrying
 * X-Linked-Etag = sha256 and X-Linked-Size, as the hub does; other files with ETag = git blob sha1), and Range
 * requests. Knobs: cut the first GET of a file after some bytes, stall a GET mid-body (the connection stays open
 * and silent), send bodies slowly, serve a corrupted copy of a file. Every request is recorded.
 *
 * <p>Revisions: the folder is commit {@link #COMMIT}, branch main; {@link #addCommit} adds another commit's files and
 * {@link #addRef} names a commit (a branch, tag or "refs/pr/N"). The revision in a URL is one percent-encoded
 * segment (decoded here); an unknown one gets 404 with X-Error-Code: RevisionNotFound, as the hub answers.
 */
public final class FakeHub implements AutoCloseable {
    public static final String COMMIT = "0123456789abcdef0123456789abcdef01234567";

    private final String id;
    private final Map<String, byte[]> files = new TreeMap<>();
    /** commit → its files; revision name → commit. */
    private final Map<String, Map<String, byte[]>> commits = new ConcurrentHashMap<>();
    private final Map<String, String> refs = new ConcurrentHashMap<>();
    private final HttpServer server;
    private final ExecutorService pool = Executors.newCachedThreadPool();
    /** "METHOD /path [Range]" of every request, in order. */
    public final List<String> requests = Collections.synchronizedList(new ArrayList<>());
    /** Files whose first GET stops after {@code value} bytes. */
    public final Map<String, Integer> cutFirstGet = new ConcurrentHashMap<>();
    /**
     * Files whose next {@code value[1]} GETs send {@code value[0]} bytes of the body (of a fixed-length response)
     * and then nothing, keeping the connection open until the client gives up or the hub is closed.
     */
    public final Map<String, int[]> stallGets = new ConcurrentHashMap<>();
    /** Milliseconds to pause after every 16 KiB of a GET's body (0 = full speed), to make transfers overlap. */
    public volatile int slowBodyMillis;
    private final java.util.concurrent.CountDownLatch closing = new java.util.concurrent.CountDownLatch(1);
    /** Files served with one byte flipped (their etag stays the true sha256). */
    public final Set<String> corrupt = ConcurrentHashMap.newKeySet();
    /**
     * Headers to replace in the HEAD and GET answers of /ID/resolve/REV/PATH for a file (ETag, X-Linked-Etag,
     * X-Linked-Size, X-Repo-Commit, Location, Content-Length of a HEAD); an empty value removes the header.
     */
    public final Map<String, Map<String, String>> headers = new ConcurrentHashMap<>();
    /** Files whose GET body never ends: the file's bytes, then more, sent chunked until the client hangs up. */
    public final Set<String> endless = ConcurrentHashMap.newKeySet();
    /** The host name LFS redirects point at (another name for this server, e.g. "localhost", is another host to a client). */
    public volatile String cdnHost = "127.0.0.1";
    /** Rewrites the revision listing's JSON before it is sent (null = as is). */
    public volatile java.util.function.UnaryOperator<String> listing;
    /** "METHOD /path" of every request that carried an Authorization header. */
    public final List<String> authorized = Collections.synchronizedList(new ArrayList<>());

    /** A test's own answer to some requests, tried before the fake's: true when it answered (and closed) the exchange. */
    public interface Intercept {
        boolean handle(HttpExchange ex, String method, String rawPath) throws IOException;
    }

    /** See {@link Intercept}; null = none. */
    public volatile Intercept intercept;

    public FakeHub(String id, Path modelDir) throws IOException {
        this.id = id;
        try (Stream<Path> s = Files.walk(modelDir)) {
            for (Path p : s.filter(Files::isRegularFile).toList())
                files.put(modelDir.relativize(p).toString().replace('\\', '/'), Files.readAllBytes(p));
        }
        commits.put(COMMIT, files);
        refs.put("main", COMMIT);
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", this::handle);
        server.setExecutor(pool);
        server.start();
    }

    public String endpoint() { return "http://127.0.0.1:" + server.getAddress().getPort(); }

    public Map<String, byte[]> files() { return files; }

    /** Adds commit {@code commit} with {@code files} (path → bytes), reachable by its hash and by any {@link #addRef}. */
    public void addCommit(String commit, Map<String, byte[]> content) { commits.put(commit, new TreeMap<>(content)); }

    /** Points branch or tag {@code name} at {@code commit}. */
    public void addRef(String name, String commit) { refs.put(name, commit); }

    /** The commit a revision names (a ref, or a known full hash), or null. */
    private String commitOf(String revision) {
        String c = refs.get(revision);
        return c != null ? c : commits.containsKey(revision) ? revision : null;
    }

    private static String decode(String s) { return java.net.URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8); }

    private static void revisionNotFound(HttpExchange ex, String revision) throws IOException {
        ex.getResponseHeaders().add("X-Error-Code", "RevisionNotFound");
        ex.getResponseHeaders().add("X-Error-Message", "Invalid rev id: " + revision);
        send(ex, 404, ("{\"error\":\"Invalid rev id: " + revision + "\"}").getBytes(StandardCharsets.UTF_8), "application/json");
    }

    public static String sha256(byte[] b) { return hex("SHA-256", null, b); }

    public static String gitSha1(byte[] b) {
        return hex("SHA-1", ("blob " + b.length + "\0").getBytes(StandardCharsets.US_ASCII), b);
    }

    private void handle(HttpExchange ex) throws IOException {
        String path = ex.getRequestURI().getRawPath(); // raw: a revision's %2F must not split it
        String range = ex.getRequestHeaders().getFirst("Range");
        requests.add(ex.getRequestMethod() + " " + path + (range != null ? " " + range : ""));
        if (ex.getRequestHeaders().getFirst("Authorization") != null) authorized.add(ex.getRequestMethod() + " " + path);
        try {
            Intercept icpt = intercept;
            if (icpt != null && icpt.handle(ex, ex.getRequestMethod(), path)) return;
            String api = "/api/models/" + id + "/revision/";
            String resolve = "/" + id + "/resolve/";
            if (path.startsWith(api)) {
                String revision = decode(path.substring(api.length()));
                String commit = commitOf(revision);
                if (commit == null) {
                    revisionNotFound(ex, revision);
                    return;
                }
                StringBuilder j = new StringBuilder("{\"id\":\"" + id + "\",\"sha\":\"" + commit + "\",\"siblings\":[");
                int i = 0;
                for (String f : commits.get(commit).keySet()) j.append(i++ > 0 ? "," : "").append("{\"rfilename\":\"").append(f).append("\"}");
                j.append(",{\"rfilename\":\".gitattributes\"},{\"rfilename\":\"README.md\"}]}");
                var rewrite = listing;
                send(ex, 200, (rewrite == null ? j.toString() : rewrite.apply(j.toString())).getBytes(StandardCharsets.UTF_8), null);
            } else if (path.startsWith(resolve)) {
                String rest = path.substring(resolve.length());
                String revision = decode(rest.substring(0, rest.indexOf('/')));
                String file = decode(rest.substring(rest.indexOf('/') + 1));
                String commit = commitOf(revision);
                if (commit == null) {
                    revisionNotFound(ex, revision);
                    return;
                }
                byte[] b = commits.get(commit).get(file);
                if (b == null) {
                    send(ex, 404, "Entry not found".getBytes(StandardCharsets.UTF_8), null);
                    return;
                }
                ex.getResponseHeaders().add("X-Repo-Commit", commit);
                if (file.endsWith(".safetensors")) {
                    ex.getResponseHeaders().add("X-Linked-Etag", "\"" + sha256(b) + "\"");
                    ex.getResponseHeaders().add("X-Linked-Size", String.valueOf(b.length));
                    ex.getResponseHeaders().add("ETag", "\"" + gitSha1(("version https://git-lfs.github.com/spec/v1\noid sha256:" + sha256(b)).getBytes(StandardCharsets.UTF_8)) + "\"");
                    ex.getResponseHeaders().add("Location", "http://" + cdnHost + ":" + server.getAddress().getPort() + "/cdn/" + file
                            + (commit.equals(COMMIT) ? "" : "?commit=" + commit));
                    override(ex, file);
                    ex.sendResponseHeaders(302, -1);
                    ex.close();
                } else {
                    ex.getResponseHeaders().add("ETag", "\"" + gitSha1(b) + "\"");
                    override(ex, file);
                    serveBody(ex, file, b, range);
                }
            } else if (path.startsWith("/cdn/")) {
                String file = decode(path.substring("/cdn/".length()));
                String q = ex.getRequestURI().getRawQuery();
                Map<String, byte[]> in = commits.get(q != null && q.startsWith("commit=") ? q.substring(7) : COMMIT);
                byte[] b = in == null ? null : in.get(file);
                if (b == null) send(ex, 404, new byte[0], null);
                else serveBody(ex, file, b, range);
            } else {
                send(ex, 404, new byte[0], null);
            }
        } catch (IOException | RuntimeException e) {
            ex.close();
        }
    }

    private void serveBody(HttpExchange ex, String file, byte[] b, String range) throws IOException {
        if (corrupt.contains(file)) {
            b = b.clone();
            b[b.length / 2] ^= 0x5A;
        }
        int from = 0;
        if (range != null && range.startsWith("bytes=") && range.endsWith("-")) from = Integer.parseInt(range.substring(6, range.length() - 1));
        if ("HEAD".equals(ex.getRequestMethod())) {
            Map<String, String> o = headers.get(file);
            if (o == null || !o.containsKey("Content-Length")) ex.getResponseHeaders().add("Content-Length", String.valueOf(b.length));
            else if (!o.get("Content-Length").isEmpty()) ex.getResponseHeaders().set("Content-Length", o.get("Content-Length"));
            ex.sendResponseHeaders(200, -1);
            ex.close();
            return;
        }
        Integer cut = "GET".equals(ex.getRequestMethod()) ? cutFirstGet.remove(file) : null;
        if (from > 0) ex.getResponseHeaders().add("Content-Range", "bytes " + from + "-" + (b.length - 1) + "/" + b.length);
        if (cut != null) {
            // the body ends early (HttpServer cannot reset a fixed-length response, so it is sent chunked and stops)
            ex.sendResponseHeaders(from > 0 ? 206 : 200, 0);
            OutputStream os = ex.getResponseBody();
            os.write(b, from, Math.min(cut, b.length - from));
            os.close();
            return;
        }
        if ("GET".equals(ex.getRequestMethod()) && endless.contains(file)) {
            ex.sendResponseHeaders(from > 0 ? 206 : 200, 0);
            OutputStream os = ex.getResponseBody();
            try {
                while (closing.getCount() > 0) os.write(b, 0, b.length); // until the client hangs up (write fails)
            } finally {
                ex.close();
            }
            return;
        }
        int stallAfter = "GET".equals(ex.getRequestMethod()) ? takeStall(file) : -1;
        ex.sendResponseHeaders(from > 0 ? 206 : 200, b.length - from);
        OutputStream os = ex.getResponseBody();
        if (stallAfter >= 0) {
            os.write(b, from, Math.min(stallAfter, b.length - from));
            os.flush();
            try {
                closing.await(); // silent until close(); the client's timeout has to end it
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            ex.close();
            return;
        }
        for (int at = from, step = 1 << 14; at < b.length; at += step) {
            os.write(b, at, Math.min(step, b.length - at));
            if (slowBodyMillis > 0) {
                os.flush();
                try {
                    Thread.sleep(slowBodyMillis);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        os.close();
    }

    /** Applies {@link #headers} for {@code file} to a response about to be sent (Content-Length of a HEAD excepted). */
    private void override(HttpExchange ex, String file) {
        Map<String, String> o = headers.get(file);
        if (o == null) return;
        o.forEach((k, v) -> {
            if (k.equals("Content-Length")) return;
            ex.getResponseHeaders().remove(k);
            if (!v.isEmpty()) ex.getResponseHeaders().set(k, v);
        });
    }

    /** Sends {@code body} with {@code status} and closes the exchange (for {@link Intercept}s). */
    public static void respond(HttpExchange ex, int status, byte[] body) throws IOException { send(ex, status, body, null); }

    /** The byte count after which this GET stalls, or −1; counts the stall off. */
    private int takeStall(String file) {
        int[] out = {-1};
        stallGets.computeIfPresent(file, (k, v) -> {
            out[0] = v[0];
            return v[1] > 1 ? new int[]{v[0], v[1] - 1} : null;
        });
        return out[0];
    }

    private static void send(HttpExchange ex, int status, byte[] body, String type) throws IOException {
        if (type != null) ex.getResponseHeaders().add("Content-Type", type);
        ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        if (body.length > 0) ex.getResponseBody().write(body);
        ex.close();
    }

    private static String hex(String alg, byte[] prefix, byte[] b) {
        try {
            MessageDigest md = MessageDigest.getInstance(alg);
            if (prefix != null) md.update(prefix);
            return HexFormat.of().formatHex(md.digest(b));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** GET requests for a file (either route). */
    public long gets(String file) {
        synchronized (requests) {
            return requests.stream().filter(r -> r.startsWith("GET ") && r.contains("/" + file)).count();
        }
    }

    /** GET requests that were answered with the bytes of a file (its CDN route for LFS files, else resolve/). */
    public long bodyGets(String file) {
        String route = file.endsWith(".safetensors") ? "/cdn/" + file : "/" + id + "/resolve/";
        synchronized (requests) {
            return requests.stream().filter(r -> r.startsWith("GET ") && r.contains(route)
                    && (r.endsWith("/" + file) || r.contains("/" + file + " "))).count();
        }
    }

    @Override
    public void close() {
        closing.countDown();
        server.stop(0);
        pool.shutdownNow();
    }

}
