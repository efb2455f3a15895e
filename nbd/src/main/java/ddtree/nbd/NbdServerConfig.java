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
 * @param offloadMinBytes requests carrying at least this much data are handed to the
 *     connection's submitter thread, so that copying them overlaps with reading the next request;
 *     smaller ones are submitted by the reader itself
 * @param handoffMinBytes a read reply carrying at least this much data, copied on the
 *     connection's reader, is sent by the connection's reply thread while fewer connections are
 *     busy than the machine has CPUs (see {@link BusyConnections}); {@link Integer#MAX_VALUE}
 *     never hands off. A reply from memory a device lent is always sent by the reader.
 * @param cpus the CPUs the server counts when it asks whether one is to spare, which decides
 *     the hand-off above and the unsent-data cap ({@link UnsentLimit}); 0 for the machine's
 */
public record NbdServerConfig(
        InetSocketAddress listen, int maxConnections, int requestsPerConnection, boolean virtualThreads,
        int busyPollMicros, int offloadMinBytes, int handoffMinBytes, int cpus) {

    /** The default poll: longer than a client's turn-around at any queue depth, short against idling. */
    public static final int DEFAULT_BUSY_POLL_MICROS = 50;
    /** A poll longer than this is no longer a poll: a millisecond of a CPU per request. */
    public static final int MAX_BUSY_POLL_MICROS = 1000;

    /**
     * Hands requests of 128 KiB and more to the submitter where a CPU is likely free to copy them
     * while the reader reads on. On two CPUs or fewer the client takes one, and the hand-off cost
     * more than it saved: submitting inline measured 7-13% more 1 MiB write throughput with fio
     * and 3% more with nbdcopy, and the same for reads.
     */
    public static int defaultOffloadMinBytes() {
        return Runtime.getRuntime().availableProcessors() > 2 ? 128 << 10 : Integer.MAX_VALUE;
    }

    /**
     * While a reply this large goes into the socket, the reader copies the next request's data:
     * fio's 1 MiB reads on one connection measured 20-25% more throughput on two CPUs. At
     * 256 KiB the hand-off gained nothing measurable, and nbdcopy's 256 KiB requests on four
     * connections came out a little slower when some of them were handed off.
     */
    public static final int DEFAULT_HANDOFF_MIN_BYTES = 512 << 10;

    public static final int DEFAULT_PORT = 10809;

    public NbdServerConfig {
        if (maxConnections < 1) {
            throw new IllegalArgumentException("maxConnections (" + maxConnections + ") must be positive");
        }
        if (requestsPerConnection < 1 || requestsPerConnection > 65536) {
            throw new IllegalArgumentException(
                    "requestsPerConnection (" + requestsPerConnection + ") must be between 1 and 65536");
        }
        if (offloadMinBytes < 1) {
            throw new IllegalArgumentException("offloadMinBytes (" + offloadMinBytes + ") must be positive");
        }
        if (handoffMinBytes < 1) {
            throw new IllegalArgumentException("handoffMinBytes (" + handoffMinBytes + ") must be positive");
        }
        if (cpus < 0) {
            throw new IllegalArgumentException("cpus (" + cpus + ") must not be negative");
        }
        if (busyPollMicros < 0 || busyPollMicros > MAX_BUSY_POLL_MICROS) {
            throw new IllegalArgumentException("busyPollMicros (" + busyPollMicros + ") must be between 0 and "
                    + MAX_BUSY_POLL_MICROS);
        }
    }

    /** Loopback on {@code port}, 1024 connections, 128 requests each, platform threads, the default poll and offload. */
    public static NbdServerConfig loopback(int port) {
        return new NbdServerConfig(new InetSocketAddress("127.0.0.1", port), 1024, 128, false,
                DEFAULT_BUSY_POLL_MICROS, defaultOffloadMinBytes(), DEFAULT_HANDOFF_MIN_BYTES, 0);
    }

    public NbdServerConfig withListen(InetSocketAddress address) {
        return new NbdServerConfig(address, maxConnections, requestsPerConnection, virtualThreads, busyPollMicros,
                offloadMinBytes, handoffMinBytes, cpus);
    }

    public NbdServerConfig withVirtualThreads(boolean virtual) {
        return new NbdServerConfig(listen, maxConnections, requestsPerConnection, virtual, busyPollMicros,
                offloadMinBytes, handoffMinBytes, cpus);
    }

    public NbdServerConfig withBusyPollMicros(int micros) {
        return new NbdServerConfig(listen, maxConnections, requestsPerConnection, virtualThreads, micros,
                offloadMinBytes, handoffMinBytes, cpus);
    }

    public NbdServerConfig withOffloadMinBytes(int bytes) {
        return new NbdServerConfig(listen, maxConnections, requestsPerConnection, virtualThreads, busyPollMicros,
                bytes, handoffMinBytes, cpus);
    }

    public NbdServerConfig withHandoffMinBytes(int bytes) {
        return new NbdServerConfig(listen, maxConnections, requestsPerConnection, virtualThreads, busyPollMicros,
                offloadMinBytes, bytes, cpus);
    }

    public NbdServerConfig withCpus(int count) {
        return new NbdServerConfig(listen, maxConnections, requestsPerConnection, virtualThreads, busyPollMicros,
                offloadMinBytes, handoffMinBytes, count);
    }

    /** {@link #cpus()}, with 0 read as the machine's. */
    int effectiveCpus() {
        return cpus > 0 ? cpus : Runtime.getRuntime().availableProcessors();
    }
}
