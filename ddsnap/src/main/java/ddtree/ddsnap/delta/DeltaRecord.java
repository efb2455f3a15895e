package ddtree.ddsnap.delta;

import java.nio.ByteBuffer;

/**
 * One extent of a delta stream, as {@link DeltaReader#next()} returns it: DATA carries the bytes of
 * {@code [offset, offset + length)}; ZERO says that range reads as zeroes.
 *
 * <p>A DATA record's bytes live in the reader's one reused buffer: {@link #data()} is valid until
 * the next call to {@link DeltaReader#next()} or {@link DeltaReader#close()}. Copy them to keep them.
 */
public final class DeltaRecord {
    public enum Type {
        DATA,
        ZERO
    }

    private final Type type;
    private final long offset;
    private final long length;
    private final ByteBuffer data;

    DeltaRecord(Type type, long offset, long length, ByteBuffer data) {
        this.type = type;
        this.offset = offset;
        this.length = length;
        this.data = data;
    }

    public Type type() {
        return type;
    }

    /** Byte offset in the volume. */
    public long offset() {
        return offset;
    }

    /** Length in bytes: at most {@link DeltaWriter#MAX_DATA_LENGTH} for DATA. */
    public long length() {
        return length;
    }

    /** The offset just past this record. */
    public long end() {
        return offset + length;
    }

    /**
     * A DATA record's bytes: a read-only buffer of {@link #length()} bytes from position 0, new on
     * each call (so callers may move its position), over the reader's reused buffer.
     *
     * @throws IllegalStateException for a ZERO record
     */
    public ByteBuffer data() {
        if (data == null) {
            throw new IllegalStateException("a ZERO record carries no data");
        }
        return data.duplicate();
    }

    @Override
    public String toString() {
        return type + " [" + offset + ", " + end() + ")";
    }
}
