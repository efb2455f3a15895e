package ddtree.block;

import ddtree.block.sys.NativeMemory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Data buffers for requests, inside a fixed memory budget.
 *
 * <p>Buffers come in power-of-two size classes from {@link #MIN_BUFFER} to {@link #MAX_BUFFER}.
 * A released buffer stays cached in its class, so the steady state allocates nothing. When the
 * budget is spent, cached buffers of other classes are freed to make room; when everything is
 * lent out, {@link #acquire} waits. That wait is the backpressure: an NBD reader blocked here stops
 * reading its socket. The last {@code reserveBytes} of the budget are kept for requests marked
 * {@link Bio#RESERVE} (writeback and flush), so dirty data can always drain.
 *
 * <p>The budget counts the buffers' data. Buffers of {@link PooledBuffer#HEADED_MIN} bytes and
 * more also take {@link PooledBuffer#HEADROOM} bytes in front, outside the budget: at most 1/32
 * of it.
 */
public final class BufferPool {
    public static final int MIN_BUFFER = 4096;
    public static final int MAX_BUFFER = 32 << 20;
    private static final int CLASSES = Integer.numberOfTrailingZeros(MAX_BUFFER) - Integer.numberOfTrailingZeros(MIN_BUFFER) + 1;

    private final long budgetBytes;
    private final long reserveBytes;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition released = lock.newCondition();
    /** Cached free buffers per class, used as stacks. */
    private final PooledBuffer[][] free = new PooledBuffer[CLASSES][];
    private final int[] freeCount = new int[CLASSES];
    /** Bytes of buffers that exist, lent or cached. */
    private long allocatedBytes;
    /** Bytes of buffers lent out. */
    private long lentBytes;
    private long peakLentBytes;
    private boolean closed;

    /**
     * @param budgetBytes the most memory all buffers together may take; at least {@link #MAX_BUFFER}
     *     plus the reserve, so that any single request can be served
     * @param reserveBytes the part of the budget only {@link Bio#RESERVE} requests may use
     */
    public BufferPool(long budgetBytes, long reserveBytes) {
        if (reserveBytes < 0 || budgetBytes < MAX_BUFFER + reserveBytes) {
            throw new IllegalArgumentException("buffer budget (" + budgetBytes + ") must be at least "
                    + MAX_BUFFER + " plus the reserve (" + reserveBytes + ")");
        }
        this.budgetBytes = budgetBytes;
        this.reserveBytes = reserveBytes;
        for (int c = 0; c < CLASSES; c++) {
            free[c] = new PooledBuffer[(int) Math.min(budgetBytes / classSize(c), Integer.MAX_VALUE - 8)];
        }
    }

    static int classOf(int size) {
        if (size <= MIN_BUFFER) {
            return 0;
        }
        return 32 - Integer.numberOfLeadingZeros(size - 1) - Integer.numberOfTrailingZeros(MIN_BUFFER);
    }

    static int classSize(int sizeClass) {
        return MIN_BUFFER << sizeClass;
    }

    static int headroomOf(int sizeClass) {
        return classSize(sizeClass) >= PooledBuffer.HEADED_MIN ? PooledBuffer.HEADROOM : 0;
    }

    /**
     * Lends a buffer of at least {@code size} bytes, waiting while the budget is spent.
     *
     * @param reserve true for writeback and flush, which may dip into the reserve
     * @throws IllegalArgumentException if size is negative or above {@link #MAX_BUFFER}
     * @throws InterruptedException if interrupted while waiting
     * @throws IllegalStateException if the pool is closed
     */
    public PooledBuffer acquire(int size, boolean reserve) throws InterruptedException {
        PooledBuffer b = acquire(size, reserve, Long.MAX_VALUE);
        assert b != null;
        return b;
    }

    /** Like {@link #acquire(int, boolean)}, but gives up after {@code timeoutNanos}, returning null. */
    public PooledBuffer acquire(int size, boolean reserve, long timeoutNanos) throws InterruptedException {
        if (size < 0 || size > MAX_BUFFER) {
            throw new IllegalArgumentException("buffer size (" + size + ") must be between 0 and " + MAX_BUFFER);
        }
        int c = classOf(size);
        long bytes = classSize(c);
        long limit = reserve ? budgetBytes : budgetBytes - reserveBytes;
        long nanos = timeoutNanos;
        lock.lockInterruptibly();
        try {
            while (true) {
                if (closed) {
                    throw new IllegalStateException("buffer pool is closed");
                }
                if (lentBytes + bytes <= limit) {
                    PooledBuffer b = takeCached(c);
                    if (b == null && makeRoom(bytes)) {
                        int headroom = headroomOf(c);
                        b = new PooledBuffer(this, c, NativeMemory.allocate(bytes + headroom, MIN_BUFFER), headroom);
                        allocatedBytes += bytes;
                    }
                    if (b != null) {
                        b.setLent(true);
                        lentBytes += bytes;
                        peakLentBytes = Math.max(peakLentBytes, lentBytes);
                        return b;
                    }
                }
                if (nanos <= 0) {
                    return null;
                }
                nanos = released.awaitNanos(nanos);
            }
        } finally {
            lock.unlock();
        }
    }

    private PooledBuffer takeCached(int c) {
        int n = freeCount[c];
        if (n == 0) {
            return null;
        }
        PooledBuffer b = free[c][--n];
        free[c][n] = null;
        freeCount[c] = n;
        return b;
    }

    /** Frees cached buffers of other classes until {@code bytes} more fit in the budget. */
    private boolean makeRoom(long bytes) {
        for (int c = CLASSES - 1; c >= 0 && allocatedBytes + bytes > budgetBytes; c--) {
            while (freeCount[c] > 0 && allocatedBytes + bytes > budgetBytes) {
                PooledBuffer b = takeCached(c);
                allocatedBytes -= classSize(c);
                NativeMemory.free(b.frame());
            }
        }
        return allocatedBytes + bytes <= budgetBytes;
    }

    void release(PooledBuffer b) {
        lock.lock();
        try {
            if (!b.lent()) {
                throw new IllegalStateException("buffer released twice");
            }
            b.setLent(false);
            long bytes = classSize(b.sizeClass());
            lentBytes -= bytes;
            if (closed) {
                allocatedBytes -= bytes;
                NativeMemory.free(b.frame());
            } else {
                free[b.sizeClass()][freeCount[b.sizeClass()]++] = b;
            }
            released.signalAll();
        } finally {
            lock.unlock();
        }
    }

    public long budgetBytes() {
        return budgetBytes;
    }

    /** Bytes lent out now. */
    public long lentBytes() {
        lock.lock();
        try {
            return lentBytes;
        } finally {
            lock.unlock();
        }
    }

    /** The most bytes ever lent out at once. */
    public long peakLentBytes() {
        lock.lock();
        try {
            return peakLentBytes;
        } finally {
            lock.unlock();
        }
    }

    /** Bytes of buffers the pool holds, lent or cached (data only: without the headroom of large ones). */
    public long allocatedBytes() {
        lock.lock();
        try {
            return allocatedBytes;
        } finally {
            lock.unlock();
        }
    }

    /** Frees every cached buffer; buffers still lent are freed as they come back. */
    public void close() {
        lock.lock();
        try {
            closed = true;
            for (int c = 0; c < CLASSES; c++) {
                PooledBuffer b;
                while ((b = takeCached(c)) != null) {
                    allocatedBytes -= classSize(c);
                    NativeMemory.free(b.frame());
                }
            }
            released.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** For tests: waits until nothing is lent, or the timeout passes. */
    public boolean awaitIdle(long timeout, TimeUnit unit) throws InterruptedException {
        long nanos = unit.toNanos(timeout);
        lock.lock();
        try {
            while (lentBytes > 0) {
                if (nanos <= 0) {
                    return false;
                }
                nanos = released.awaitNanos(nanos);
            }
            return true;
        } finally {
            lock.unlock();
        }
    }
}
