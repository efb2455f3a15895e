package ddtree.snapstore;

import ddtree.block.BlockDevice;
import ddtree.block.BufferPool;
import ddtree.block.Op;
import ddtree.block.PooledBuffer;
import java.io.IOException;
import java.io.InterruptedIOException;

/**
 * Chunk copies from the origin to the store that a batch of the worker has decided on: kept
 * until {@link #flush()}, which reads them all at once and then writes them all at once, so a
 * batch of first writes costs about two device round trips rather than two per chunk.
 */
final class CopyOuts implements AutoCloseable {
    private final BlockDevice from;
    private final BlockDevice to;
    private final DataIo[] io;
    private final PooledBuffer[] buffers;
    private final long[] fromOffset;
    private final long[] toOffset;
    private final int[] length;
    private int count;

    CopyOuts(BlockDevice from, BlockDevice to, int chunkSize, int parallel, BufferPool pool) throws IOException {
        this.from = from;
        this.to = to;
        io = new DataIo[parallel];
        buffers = new PooledBuffer[parallel];
        fromOffset = new long[parallel];
        toOffset = new long[parallel];
        length = new int[parallel];
        try {
            for (int i = 0; i < parallel; i++) {
                io[i] = new DataIo();
                buffers[i] = pool.acquire(chunkSize, true);
            }
        } catch (InterruptedException e) {
            close();
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("waiting for copy-out buffers");
        }
    }

    /** Queues a copy, first doing the queued ones if there is no room. */
    void add(long fromOff, long toOff, int len) throws IOException {
        if (count == io.length) {
            flush();
        }
        fromOffset[count] = fromOff;
        toOffset[count] = toOff;
        length[count] = len;
        count++;
    }

    boolean isEmpty() {
        return count == 0;
    }

    /** Does every queued copy; the data is written, not yet flushed. */
    void flush() throws IOException {
        int n = count;
        count = 0;
        IOException failed = null;
        for (int i = 0; i < n; i++) {
            io[i].start(from, Op.READ, fromOffset[i], length[i], buffers[i], 0, 0);
        }
        for (int i = 0; i < n; i++) {
            failed = awaitInto(io[i], failed);
        }
        if (failed != null) {
            throw failed;
        }
        for (int i = 0; i < n; i++) {
            io[i].start(to, Op.WRITE, toOffset[i], length[i], buffers[i], 0, 0);
        }
        for (int i = 0; i < n; i++) {
            failed = awaitInto(io[i], failed);
        }
        if (failed != null) {
            throw failed;
        }
    }

    private static IOException awaitInto(DataIo io, IOException failed) {
        try {
            io.await();
        } catch (IOException e) {
            return failed != null ? failed : e;
        }
        return failed;
    }

    @Override
    public void close() {
        for (PooledBuffer b : buffers) {
            if (b != null) {
                b.release();
            }
        }
    }
}
