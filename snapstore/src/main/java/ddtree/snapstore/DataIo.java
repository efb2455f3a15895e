package ddtree.snapstore;

import ddtree.block.Bio;
import ddtree.block.BioCompletion;
import ddtree.block.BlockDevice;
import ddtree.block.Dispatch;
import ddtree.block.Errno;
import ddtree.block.Op;
import ddtree.block.PooledBuffer;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.concurrent.Semaphore;

/**
 * Synchronous chunk I/O for the store's worker thread: copy-outs, reverts, the data a snapshot
 * write merges with. The worker is not inside a dispatch, so it may wait; requests use the
 * budgets' reserve, because they are what lets held origin writes go on.
 */
final class DataIo {
    private final Bio bio = new Bio(2);
    private final Semaphore done = new Semaphore(0);
    private final BioCompletion signal = (b, state) -> {
        // The first step pushed, so the last to run: stop the walk here, because once the
        // waiter wakes it reuses the bio, and complete() must not look at it again.
        done.release();
        return false;
    };

    void read(BlockDevice dev, long offset, int length, PooledBuffer buf, int bufOffset) throws IOException {
        run(dev, Op.READ, offset, length, buf, bufOffset, 0);
    }

    void write(BlockDevice dev, long offset, int length, PooledBuffer buf, int bufOffset) throws IOException {
        run(dev, Op.WRITE, offset, length, buf, bufOffset, 0);
    }

    void flush(BlockDevice dev) throws IOException {
        run(dev, Op.FLUSH, 0, 0, null, 0, 0);
    }

    private void run(BlockDevice dev, Op op, long offset, int length, PooledBuffer buf, int bufOffset, int flags)
            throws IOException {
        start(dev, op, offset, length, buf, bufOffset, flags);
        await();
    }

    private BlockDevice device;
    private long bytes;

    /** Starts a request; {@link #await()} waits for it. One at a time per instance. */
    void start(BlockDevice dev, Op op, long offset, int length, PooledBuffer buf, int bufOffset, int flags)
            throws IOException {
        long n = op.carriesData() ? length : 0;
        try {
            dev.budget().acquire(n, true);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("waiting for " + dev.name() + "'s in-flight budget");
        }
        device = dev;
        bytes = n;
        bio.reset(op, offset, length, flags | Bio.RESERVE, op.carriesData() ? buf : null);
        if (op.carriesData()) {
            bio.narrow(offset, length, bufOffset);
        }
        bio.pushCompletion(signal, 0);
        Dispatch.submit(dev, bio);
    }

    /** Waits for the request {@link #start} began and throws if it failed. */
    void await() throws IOException {
        done.acquireUninterruptibly();
        device.budget().release(bytes);
        if (bio.status() != Errno.OK) {
            throw new IOException(bio.op() + (bio.op() == Op.FLUSH ? "" : " of " + bio.length() + " bytes at "
                    + bio.offset()) + " on " + device.name() + ": " + Errno.name(bio.status()));
        }
    }
}
