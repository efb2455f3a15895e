package ddtree.nbd;

import java.net.InetSocketAddress;

/**
 * How an {@link NbdServer} listens and how much it lets each client have in flight.
 *
 * @param listen address and port to bind (port 0 picks a free one)
 * @param maxConnections connections beyond this are closed at once
 * @param requestsPerConnection request slots per connection; a client with more outstanding
 *     requests waits for a slot, which is TCP backpressure
 * @param virtualThreads serve each connection on a virtual thread rather than a platform thread.
 *     Off by default: a virtual thread parks and is woken through the JDK's poller for every
 *     read that would block, which measured three times the latency of a platform thread blocked
 *     in read(2) at queue depth 1; a few hundred platform threads cost little.
 * @param busyPollMicros how long a connection's reader polls its socket for the next request
 *     before it blocks (see {@link BusyPoll}); 0 turns polling off
 */
public record NbdServerConfig(
        InetSocketAddress listen, int maxConnections, int requestsPerConnection, boolean virtualThreads,
        int busyPollMicros) {

    /** The default poll: longer than a client's turn-around at any queue depth, short against idling. */
    public static final int DEFAULT_BUSY_POLL_MICROS = 50;

    public static final int DEFAULT_PORT = 10809;

    public NbdServerConfig {
        if (maxConnections < 1) {
            throw new IllegalArgumentException("maxConnections (" + maxConnections + ") must be positive");
        }
        if (requestsPerConnection < 1 || requestsPerConnection > 65536) {
            throw new IllegalArgumentException(
                    "requestsPerConnection (" + requestsPerConnection + ") must be between 1 and 65536");
        }
        if (busyPollMicros < 0 || busyPollMicros > 1_000_000) {
            throw new IllegalArgumentException("busyPollMicros (" + busyPollMicros + ") must be between 0 and 1000000");
        }
    }

    /** Loopback on {@code port}, 1024 connections, 128 requests each, platform threads, the default poll. */
    public static NbdServerConfig loopback(int port) {
        return new NbdServerConfig(new InetSocketAddress("127.0.0.1", port), 1024, 128, false,
                DEFAULT_BUSY_POLL_MICROS);
    }

    public NbdServerConfig withListen(InetSocketAddress address) {
        return new NbdServerConfig(address, maxConnections, requestsPerConnection, virtualThreads, busyPollMicros);
    }

    public NbdServerConfig withVirtualThreads(boolean virtual) {
        return new NbdServerConfig(listen, maxConnections, requestsPerConnection, virtual, busyPollMicros);
    }

    public NbdServerConfig withBusyPollMicros(int micros) {
        return new NbdServerConfig(listen, maxConnections, requestsPerConnection, virtualThreads, micros);
    }
}
