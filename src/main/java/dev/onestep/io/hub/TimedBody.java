package dev.onestep.io.hub;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A response body as an InputStream whose reads give up when no bytes arrive for a while: java.net.http has a
 * timeout for the response headers but none for the body, so a transfer that stalls mid-file would otherwise wait
 * forever. The body's chunks are queued as the client delivers them (one outstanding request at a time, so memory
 * stays bounded) and each read waits at most {@code stall} for the next; then it throws {@link Stalled} and the
 * transfer is cancelled, which closes the connection. Used as the {@link HttpResponse.BodySubscriber} itself,
 * so {@code send} returns as soon as the headers are in, as with {@code BodyHandlers.ofInputStream()}.
 */
final class TimedBody extends InputStream implements HttpResponse.BodySubscriber<InputStream> {
    /** No byte arrived within the stall limit. */
    static final class Stalled extends HttpTimeoutException {
        Stalled(String message) { super(message); }
    }

    private static final Object END = new Object();

    private final BlockingQueue<Object> queue = new LinkedBlockingQueue<>();
    private final Duration stall;
    private volatile Flow.Subscription subscription;
    private volatile boolean closed;
    private Iterator<ByteBuffer> chunks = Collections.emptyIterator();
    private ByteBuffer current;
    private boolean finished;

    TimedBody(Duration stall) { this.stall = Objects.requireNonNull(stall); }

    /** A body handler that reads every response this way. */
    static HttpResponse.BodyHandler<InputStream> handler(Duration stall) {
        return info -> new TimedBody(stall);
    }

    @Override
    public CompletionStage<InputStream> getBody() { return CompletableFuture.completedFuture(this); }

    @Override
    public void onSubscribe(Flow.Subscription s) {
        subscription = s;
        if (closed) s.cancel();
        else s.request(1);
    }

    @Override
    public void onNext(List<ByteBuffer> items) { queue.add(items); }

    @Override
    public void onError(Throwable t) { queue.add(t); }

    @Override
    public void onComplete() { queue.add(END); }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        Objects.checkFromIndexSize(off, len, b.length);
        if (closed) throw new IOException("the response body is closed");
        if (len == 0) return 0;
        while (current == null || !current.hasRemaining()) {
            if (chunks.hasNext()) {
                current = chunks.next();
                continue;
            }
            if (finished) return -1;
            Object next;
            try {
                next = queue.poll(stall.toNanos(), TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                close();
                throw new InterruptedIOException("interrupted while reading a download");
            }
            if (next == null) {
                close();
                throw new Stalled("no data for " + seconds(stall) + " s");
            }
            if (next == END) {
                finished = true;
                return -1;
            }
            if (next instanceof Throwable t) {
                finished = true;
                throw t instanceof IOException io ? io : new IOException(t.getMessage(), t);
            }
            @SuppressWarnings("unchecked") List<ByteBuffer> items = (List<ByteBuffer>) next;
            chunks = items.iterator();
            Flow.Subscription s = subscription;
            if (s != null) s.request(1);
        }
        int n = Math.min(len, current.remaining());
        current.get(b, off, n);
        return n;
    }

    /** Cancels the transfer (the connection is dropped) unless it has already ended. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        Flow.Subscription s = subscription;
        if (s != null && !finished) s.cancel();
        queue.clear();
    }

    static String seconds(Duration d) {
        double s = d.toNanos() / 1e9;
        return s == Math.rint(s) ? Long.toString((long) s) : Double.toString(s);
    }
}
