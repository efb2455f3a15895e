package ddtree.mapper;

import ddtree.block.Bio;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A device's gate: counts the bios in flight, and while suspended holds new ones, in arrival
 * order, in an intrusive queue (so holding allocates nothing).
 *
 * <p>Admission is lock-free: a submitter counts itself in flight, then reads the flag;
 * {@link #close()} sets the flag, then {@link #awaitDrained()} reads the count. Both are volatile,
 * so one of the two always sees the other: no bio slips past a suspend unseen.
 */
final class Admission {
    private final AtomicLong inflight = new AtomicLong();
    private volatile boolean closed;
    /** Guards the held queue and the drain wait. */
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition drained = lock.newCondition();
    private Bio heldHead;
    private Bio heldTail;

    /** Counts {@code bio} in flight and returns true, or, while closed, holds it and returns false. */
    boolean enter(Bio bio) {
        inflight.incrementAndGet();
        if (!closed) {
            return true;
        }
        lock.lock();
        try {
            if (!closed) {
                return true; // opened meanwhile
            }
            bio.queueNext(null);
            if (heldTail == null) {
                heldHead = bio;
            } else {
                heldTail.queueNext(bio);
            }
            heldTail = bio;
        } finally {
            lock.unlock();
        }
        exit(); // a held bio is not in flight: the drain must not wait for it
        return false;
    }

    /** A bio counted by {@link #enter} has completed. */
    void exit() {
        if (inflight.decrementAndGet() == 0 && closed) {
            lock.lock();
            try {
                drained.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    /** Holds bios from now on. */
    void close() {
        closed = true;
    }

    boolean closed() {
        return closed;
    }

    /** Waits until no bio is in flight. */
    void awaitDrained() throws InterruptedException {
        lock.lockInterruptibly();
        try {
            while (inflight.get() != 0) {
                drained.await(100, TimeUnit.MILLISECONDS); // the timeout only guards against a lost signal
            }
        } finally {
            lock.unlock();
        }
    }

    /** Like {@link #awaitDrained()}, keeping an interrupt for the caller to see afterwards. */
    void awaitDrainedUninterruptibly() {
        boolean interrupted = false;
        while (true) {
            try {
                awaitDrained();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** Admits bios again and returns the held ones, oldest first, linked by {@link Bio#queueNext()}. */
    Bio open() {
        lock.lock();
        try {
            closed = false;
            Bio b = heldHead;
            heldHead = heldTail = null;
            return b;
        } finally {
            lock.unlock();
        }
    }
}
