package ddtree.snapstore;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Counts origin writes in flight below the store, and can close so that a snapshot is taken
 * between writes: every write completed before {@link #close()} returns is in the snapshot, and
 * every write that finds the gate closed waits for the store's worker instead.
 */
final class OriginGate {
    private final AtomicLong inFlight = new AtomicLong();
    private volatile boolean closed;
    private final Object drained = new Object();

    /** True if the caller may send an origin write down now; it must then call {@link #done()}. */
    boolean enter() {
        if (closed) {
            return false;
        }
        inFlight.incrementAndGet();
        if (closed) {
            done();
            return false;
        }
        return true;
    }

    /** Counts a write the worker sends down itself, which it does only while the gate is open. */
    void enterAlways() {
        inFlight.incrementAndGet();
    }

    void done() {
        if (inFlight.decrementAndGet() == 0 && closed) {
            synchronized (drained) {
                drained.notifyAll();
            }
        }
    }

    /** Stops new writes and waits for those in flight to complete. */
    void close() throws InterruptedException {
        closed = true;
        synchronized (drained) {
            while (inFlight.get() != 0) {
                drained.wait(100);
            }
        }
    }

    void open() {
        closed = false;
    }

    boolean isClosed() {
        return closed;
    }
}
