package ddtree.block;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

/**
 * A page-aligned off-heap buffer lent by a {@link BufferPool}. It keeps one byte-buffer view made
 * with it, so channel I/O on it allocates nothing.
 */
public final class PooledBuffer {
    private final BufferPool pool;
    private final int sizeClass;
    private final MemorySegment segment;
    private final ByteBuffer byteBuffer;
    private boolean lent;

    PooledBuffer(BufferPool pool, int sizeClass, MemorySegment segment) {
        this.pool = pool;
        this.sizeClass = sizeClass;
        this.segment = segment;
        this.byteBuffer = segment.asByteBuffer();
    }

    /** The whole buffer. */
    public MemorySegment segment() {
        return segment;
    }

    /** The reusable byte-buffer view of the whole buffer; callers set position and limit. */
    public ByteBuffer byteBuffer() {
        return byteBuffer;
    }

    public int capacity() {
        return (int) segment.byteSize();
    }

    int sizeClass() {
        return sizeClass;
    }

    boolean lent() {
        return lent;
    }

    void setLent(boolean lent) {
        this.lent = lent;
    }

    /** Gives the buffer back to its pool. */
    public void release() {
        pool.release(this);
    }
}
