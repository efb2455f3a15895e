package ddtree.ddsnap;

import ddtree.block.Bio;
import ddtree.block.BioCompletion;
import ddtree.block.BufferPool;
import ddtree.block.Errno;
import ddtree.block.Op;
import ddtree.block.PooledBuffer;
import ddtree.snapstore.SnapStore;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.concurrent.Semaphore;

/**
 * Synchronous whole-chunk I/O on a volume's origin or one of its snapshots, through the store's
 * data path (so origin writes copy out for the snapshots that need it), for the delta service.
 * Runs on a control thread, never inside a dispatch. One chunk buffer, one request at a time.
 */
final class StoreIo implements AutoCloseable {
    private final SnapStore store;
    private final PooledBuffer buffer;
    private final Bio bio = new Bio(4);
    private final Semaphore done = new Semaphore(0);
    private final BioCompletion signal = (b, state) -> {
        // The first step pushed, so the last to run: stop the walk here, because once the
        // waiter wakes it reuses the bio, and complete() must not look at it again.
        done.release();
        return false;
    };

    StoreIo(SnapStore store, BufferPool pool) throws IOException {
        this.store = store;
        try {
            this.buffer = pool.acquire(store.chunkSize(), false);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("waiting for a chunk buffer");
        }
    }

    PooledBuffer buffer() {
        return buffer;
    }

    /** Reads {@code length} bytes at {@code offset} of snapshot {@code id} into the buffer. */
    void readSnapshot(long id, long offset, int length) throws IOException {
        run(id, Op.READ, offset, length);
    }

    /** Reads {@code length} bytes at {@code offset} of the origin into the buffer. */
    void readOrigin(long offset, int length) throws IOException {
        run(0, Op.READ, offset, length);
    }

    /** Writes the buffer's first {@code length} bytes to the origin at {@code offset}. */
    void writeOrigin(long offset, int length) throws IOException {
        run(0, Op.WRITE, offset, length);
    }

    void zeroOrigin(long offset, int length) throws IOException {
        run(0, Op.WRITE_ZEROES, offset, length);
    }

    void flushOrigin() throws IOException {
        run(0, Op.FLUSH, 0, 0);
    }

    private long lastId;
    private Op lastOp;
    private long lastOffset;
    private int lastLength;

    private void run(long id, Op op, long offset, int length) throws IOException {
        start(id, op, offset, length);
        finish();
    }

    /** Starts a read of snapshot {@code id} (0: the origin); {@link #finish()} waits for it. */
    void startRead(long id, long offset, int length) {
        start(id, Op.READ, offset, length);
    }

    private boolean pending;

    private void start(long id, Op op, long offset, int length) {
        pending = true;
        lastId = id;
        lastOp = op;
        lastOffset = offset;
        lastLength = length;
        bio.reset(op, offset, length, 0, op.carriesData() ? buffer : null);
        bio.pushCompletion(signal, 0);
        if (id == 0) {
            store.mapOrigin(bio);
        } else {
            store.mapSnapshot(id, bio);
        }
    }

    /** Waits for the request {@link #startRead} began, and throws if it failed. */
    void finish() throws IOException {
        long id = lastId;
        Op op = lastOp;
        long offset = lastOffset;
        int length = lastLength;
        try {
            done.acquire();
            pending = false;
        } catch (InterruptedException e) {
            pending = false;
            // The bio still owns the buffer: wait it out before giving up.
            done.acquireUninterruptibly();
            Thread.currentThread().interrupt();
            throw new InterruptedIOException();
        }
        if (bio.status() != Errno.OK) {
            throw new IOException(op.name().toLowerCase() + " of " + length + " bytes at " + offset + " on "
                    + store.name() + (id == 0 ? "" : " snapshot " + id) + ": " + Errno.name(bio.status()));
        }
    }

    @Override
    public void close() {
        if (pending) {
            done.acquireUninterruptibly(); // the request still owns the buffer
            pending = false;
        }
        buffer.release();
    }
}
