package ddtree.block;

import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A device's allowance of requests and data bytes in flight. Submitters take from it before
 * {@link BlockDevice#submit} and give back on completion; when it is spent they wait, so a flood
 * of clients queues in their sockets rather than in memory. The last part of each limit is kept
 * for requests marked {@link Bio#RESERVE} (writeback, flush), so dirty data always drains.
 */
public final class InflightBudget {
    private final int maxRequests;
    private final long maxBytes;
    private final int reserveRequests;
    private final long reserveBytes;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition returned = lock.newCondition();
    private int requests;
    private long bytes;
    private int waiters;
    private long waits;

    /**
     * @param maxRequests requests in flight at most, reserve included
     * @param maxBytes data bytes in flight at most, reserve included; at least
     *     {@link BufferPool#MAX_BUFFER} more than the reserve so one request of any size fits
     */
    public InflightBudget(int maxRequests, long maxBytes, int reserveRequests, long reserveBytes) {
        if (reserveRequests < 0 || maxRequests <= reserveRequests) {
            throw new IllegalArgumentException("request budget (" + maxRequests
                    + ") must exceed its reserve (" + reserveRequests + ")");
        }
        if (reserveBytes < 0 || maxBytes < BufferPool.MAX_BUFFER + reserveBytes) {
            throw new IllegalArgumentException("byte budget (" + maxBytes + ") must be at least "
                    + BufferPool.MAX_BUFFER + " plus its reserve (" + reserveBytes + ")");
        }
        this.maxRequests = maxRequests;
        this.maxBytes = maxBytes;
        this.reserveRequests = reserveRequests;
        this.reserveBytes = reserveBytes;
    }

    /** A budget for one device with room for 256 requests and 64 MiB of data, an eighth reserved. */
    public static InflightBudget defaults() {
        return new InflightBudget(256, 64L << 20, 32, 8L << 20);
    }

    /**
     * Takes one request of {@code dataBytes} (0 for requests without payload), waiting while the
     * budget is spent.
     */
    public void acquire(long dataBytes, boolean reserve) throws InterruptedException {
        int reqLimit = reserve ? maxRequests : maxRequests - reserveRequests;
        long byteLimit = reserve ? maxBytes : maxBytes - reserveBytes;
        lock.lockInterruptibly();
        try {
            if (requests + 1 > reqLimit || bytes + dataBytes > byteLimit) {
                waits++;
                waiters++;
                try {
                    while (requests + 1 > reqLimit || bytes + dataBytes > byteLimit) {
                        returned.await();
                    }
                } finally {
                    waiters--;
                }
            }
            requests++;
            bytes += dataBytes;
        } finally {
            lock.unlock();
        }
    }

    /** Takes one request if that needs no waiting; true when taken. */
    public boolean tryAcquire(long dataBytes, boolean reserve) {
        int reqLimit = reserve ? maxRequests : maxRequests - reserveRequests;
        long byteLimit = reserve ? maxBytes : maxBytes - reserveBytes;
        lock.lock();
        try {
            if (requests + 1 > reqLimit || bytes + dataBytes > byteLimit) {
                return false;
            }
            requests++;
            bytes += dataBytes;
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Gives back what one {@link #acquire} took. */
    public void release(long dataBytes) {
        lock.lock();
        try {
            requests--;
            bytes -= dataBytes;
            if (requests < 0 || bytes < 0) {
                throw new IllegalStateException("in-flight budget released more than taken");
            }
            if (waiters > 0) {
                returned.signalAll();
            }
        } finally {
            lock.unlock();
        }
    }

    public int requestsInFlight() {
        lock.lock();
        try {
            return requests;
        } finally {
            lock.unlock();
        }
    }

    public long bytesInFlight() {
        lock.lock();
        try {
            return bytes;
        } finally {
            lock.unlock();
        }
    }

    /** How many acquires had to wait: a measure of backpressure. */
    public long waits() {
        lock.lock();
        try {
            return waits;
        } finally {
            lock.unlock();
        }
    }

    public int maxRequests() {
        return maxRequests;
    }

    public long maxBytes() {
        return maxBytes;
    }
}
