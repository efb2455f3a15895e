package ddtree.nbd.client;

import java.time.Duration;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * How an {@link NbdClientDevice} connects and how long it lets a request wait.
 *
 * @param connectTimeout how long one connection attempt (TCP connect and the handshake) may take
 * @param requestTimeout how long a request may wait, across reconnects, before it fails with EIO;
 *     a request the server holds longer than this is taken as a hung connection, which is dropped
 *     and made again
 * @param reconnectMin delay before the first reconnect attempt after a drop
 * @param reconnectMax the delay doubles per failed attempt up to this
 * @param maxInflight requests on the wire at once (the cookie is a slot index below this)
 * @param maxRequestBytes largest READ or WRITE payload sent in one request; 0 takes the server's
 *     maximum. Larger requests are split.
 * @param events receives "disconnected: ...", "reconnected ...", "failed: ..." as they happen
 */
public record ClientOptions(
        Duration connectTimeout,
        Duration requestTimeout,
        Duration reconnectMin,
        Duration reconnectMax,
        int maxInflight,
        int maxRequestBytes,
        Consumer<String> events) {

    public ClientOptions {
        Objects.requireNonNull(events, "events");
        positive("connectTimeout", connectTimeout);
        positive("requestTimeout", requestTimeout);
        positive("reconnectMin", reconnectMin);
        positive("reconnectMax", reconnectMax);
        if (reconnectMax.compareTo(reconnectMin) < 0) {
            throw new IllegalArgumentException(
                    "reconnectMax (" + reconnectMax + ") is below reconnectMin (" + reconnectMin + ")");
        }
        if (maxInflight < 1 || maxInflight > 4096) {
            throw new IllegalArgumentException("maxInflight (" + maxInflight + ") must be between 1 and 4096");
        }
        if (maxRequestBytes != 0 && (maxRequestBytes < 4096 || Integer.bitCount(maxRequestBytes) != 1)) {
            throw new IllegalArgumentException(
                    "maxRequestBytes (" + maxRequestBytes + ") must be 0 or a power of two of at least 4096");
        }
    }

    private static void positive(String field, Duration d) {
        Objects.requireNonNull(d, field);
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(field + " (" + d + ") must be positive");
        }
    }

    /** 10 s to connect, 60 s per request, reconnect after 100 ms backing off to 5 s, 64 in flight. */
    public static ClientOptions defaults() {
        return new ClientOptions(Duration.ofSeconds(10), Duration.ofSeconds(60), Duration.ofMillis(100),
                Duration.ofSeconds(5), 64, 0, event -> { });
    }

    public ClientOptions withConnectTimeout(Duration d) {
        return new ClientOptions(d, requestTimeout, reconnectMin, reconnectMax, maxInflight, maxRequestBytes, events);
    }

    public ClientOptions withRequestTimeout(Duration d) {
        return new ClientOptions(connectTimeout, d, reconnectMin, reconnectMax, maxInflight, maxRequestBytes, events);
    }

    public ClientOptions withReconnect(Duration min, Duration max) {
        return new ClientOptions(connectTimeout, requestTimeout, min, max, maxInflight, maxRequestBytes, events);
    }

    public ClientOptions withMaxInflight(int n) {
        return new ClientOptions(connectTimeout, requestTimeout, reconnectMin, reconnectMax, n, maxRequestBytes, events);
    }

    public ClientOptions withMaxRequestBytes(int n) {
        return new ClientOptions(connectTimeout, requestTimeout, reconnectMin, reconnectMax, maxInflight, n, events);
    }

    public ClientOptions withEvents(Consumer<String> listener) {
        return new ClientOptions(connectTimeout, requestTimeout, reconnectMin, reconnectMax, maxInflight,
                maxRequestBytes, listener);
    }
}
