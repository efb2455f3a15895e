package ddtree.nbd;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Counts the server's connections that have requests in flight, so a connection can tell whether
 * a CPU is likely free for a second thread of its own.
 *
 * <p>A connection answers on the thread that read the request, which keeps one connection on one
 * CPU. For a large read that thread spends most of its time in the socket write, and the next
 * request's copy waits behind it; handing the write to the connection's reply thread lets the two
 * overlap on another CPU. That pays only while CPUs are idle: with as many busy connections as
 * CPUs, each already has one, and the hand-off only adds a switch (nbdcopy's four connections on
 * two CPUs measured 10% slower with it).
 */
final class BusyConnections {
    private final AtomicInteger busy = new AtomicInteger();
    private final int cpus;

    BusyConnections(int cpus) {
        this.cpus = cpus;
    }

    /** For the server's CPUs. */
    static BusyConnections ofThisMachine() {
        return new BusyConnections(Runtime.getRuntime().availableProcessors());
    }

    /** A connection's first request in flight. */
    void started() {
        busy.incrementAndGet();
    }

    /** A connection's last request in flight is answered. */
    void finished() {
        busy.decrementAndGet();
    }

    /** True while fewer connections are busy than there are CPUs. */
    boolean cpuToSpare() {
        return busy.get() < cpus;
    }

    int busy() {
        return busy.get();
    }
}
