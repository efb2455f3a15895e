package ddtree.block;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

/**
 * A page-aligned off-heap buffer lent by a {@link BufferPool}. It keeps one byte-buffer view made
 * with it, so channel I/O on it allocates nothing.
 *
 * <p>A buffer of {@link #HEADED_MIN} bytes or more has {@link #HEADROOM} bytes of memory in front
 * of its data, so that a reply's header can be put right before the data and both go out in one
 * plain write: the JDK allocates on every gathering write of a buffer that views a memory
 * segment, and two writes cost a system call and a packet more.
 */
public final class PooledBuffer {
    /** Memory in front of a large buffer's data: a page, so the data stays page-aligned. */
    public static final int HEADROOM = 4096;
    /** Buffers this large have headroom; smaller payloads are copied next to their header instead. */
    public static final int HEADED_MIN = 128 << 10;

    private final BufferPool pool;
    private final int sizeClass;
    /** The headroom and the data. */
    private final MemorySegment frame;
    private final int headroom;
    private final MemorySegment segment;
    private final ByteBuffer byteBuffer;
    private final ByteBuffer frameBuffer;
    private boolean lent;

    /** @param frame memory for {@code headroom} bytes followed by the data */
    PooledBuffer(BufferPool pool, int sizeClass, MemorySegment frame, int headroom) {
        this.pool = pool;
        this.sizeClass = sizeClass;
        this.frame = frame;
        this.headroom = headroom;
        this.segment = frame.asSlice(headroom);
        this.byteBuffer = segment.asByteBuffer();
        this.frameBuffer = headroom > 0 ? frame.asByteBuffer() : byteBuffer;
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

    /** Bytes in front of the data; 0 for a buffer smaller than {@link #HEADED_MIN}. */
    public int headroom() {
        return headroom;
    }

    /** The headroom and the data: the data starts at offset {@link #headroom()}. */
    public MemorySegment frame() {
        return frame;
    }

    /** The reusable byte-buffer view of {@link #frame()}; callers set position and limit. */
    public ByteBuffer frameBuffer() {
        return frameBuffer;
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
