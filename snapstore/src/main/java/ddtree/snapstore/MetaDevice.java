package ddtree.snapstore;

import ddtree.block.Bio;
import ddtree.block.BioCompletion;
import ddtree.block.BlockDevice;
import ddtree.block.BufferPool;
import ddtree.block.Dispatch;
import ddtree.block.Errno;
import ddtree.block.Op;
import ddtree.block.PooledBuffer;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.Semaphore;

/**
 * Synchronous whole-block I/O on a {@link BlockDevice} for the metadata engine. Metadata updates
 * are ordered by the journal's flushes, so waiting for each request keeps that ordering obvious;
 * the data path stays asynchronous and never goes through here.
 *
 * <p>One bio and one buffer are reused for every request, so calls are serialised. Calls wait for
 * completion, so they must not be made from inside a device's {@code submit} or a bio completion on
 * the same thread: {@link Dispatch} would hold the request until that call returned.
 */
public final class MetaDevice implements AutoCloseable {
    /** Metadata block size: the unit of every read, write and checksum. */
    public static final int BLOCK_SIZE = 4096;

    private final BlockDevice device;
    private final long blocks;
    private final Bio bio = new Bio(2);
    private final PooledBuffer buffer;
    private final Semaphore done = new Semaphore(0);
    private final BioCompletion signal = (b, state) -> {
        // The first step pushed, so the last to run: stop the walk here, because once the
        // waiter wakes it reuses the bio, and complete() must not look at it again.
        done.release();
        return false;
    };

    /**
     * @param pool where the one block buffer comes from; it is given back at {@link #close()}
     */
    public MetaDevice(BlockDevice device, BufferPool pool) throws IOException {
        this.device = device;
        this.blocks = device.size() / BLOCK_SIZE;
        if (blocks < 1) {
            throw new IOException("metadata device " + device.name() + ": size " + device.size()
                    + " is smaller than one " + BLOCK_SIZE + "-byte block");
        }
        try {
            this.buffer = pool.acquire(BLOCK_SIZE, true);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("waiting for a metadata buffer");
        }
    }

    /** Whole blocks on the device; a partial block at the end is not used. */
    public long blocks() {
        return blocks;
    }

    public String name() {
        return device.name();
    }

    /** Reads block {@code block} into {@code out}, which must be {@link #BLOCK_SIZE} long. */
    public synchronized void read(long block, byte[] out) throws IOException {
        check(block, out);
        run(Op.READ, block, 0);
        MemorySegment.copy(buffer.segment(), ValueLayout.JAVA_BYTE, 0, out, 0, BLOCK_SIZE);
    }

    /** Writes {@code image} to block {@code block}; durable only after a {@link #flush()}. */
    public synchronized void write(long block, byte[] image) throws IOException {
        check(block, image);
        MemorySegment.copy(image, 0, buffer.segment(), ValueLayout.JAVA_BYTE, 0, BLOCK_SIZE);
        run(Op.WRITE, block, 0);
    }

    /** Makes every completed write durable. */
    public synchronized void flush() throws IOException {
        run(Op.FLUSH, -1, 0);
    }

    private void check(long block, byte[] data) {
        if (block < 0 || block >= blocks) {
            throw new IllegalArgumentException("metadata block " + block + " outside 0.." + (blocks - 1)
                    + " of " + device.name());
        }
        if (data.length != BLOCK_SIZE) {
            throw new IllegalArgumentException("block buffer of " + data.length + " bytes, want " + BLOCK_SIZE);
        }
    }

    private void run(Op op, long block, int flags) throws IOException {
        long bytes = op.carriesData() ? BLOCK_SIZE : 0;
        try {
            // Metadata I/O is what lets dirty state drain, so it may use the device's reserve.
            device.budget().acquire(bytes, true);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("waiting for " + device.name() + "'s in-flight budget");
        }
        try {
            bio.reset(op, op == Op.FLUSH ? 0 : block * BLOCK_SIZE, bytes, flags | Bio.RESERVE,
                    op.carriesData() ? buffer : null);
            bio.pushCompletion(signal, 0);
            Dispatch.submit(device, bio);
            done.acquireUninterruptibly(); // the bio owns the buffer until it completes
        } finally {
            device.budget().release(bytes);
        }
        if (bio.status() != Errno.OK) {
            throw new IOException(op + (op == Op.FLUSH ? "" : " of metadata block " + block) + " on "
                    + device.name() + ": " + Errno.name(bio.status()));
        }
    }

    /** Gives the buffer back; the device itself belongs to the caller. */
    @Override
    public synchronized void close() {
        buffer.release();
    }
}
