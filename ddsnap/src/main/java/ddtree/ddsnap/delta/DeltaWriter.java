package ddtree.ddsnap.delta;

import static ddtree.ddsnap.delta.DeltaFormat.CRC_BYTES;
import static ddtree.ddsnap.delta.DeltaFormat.DATA_FIELDS;

import com.github.luben.zstd.ZstdOutputStreamNoFinalizer;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.zip.CRC32C;

/**
 * Writes a delta stream: the header at construction, then {@link #data} and {@link #zero} records
 * in increasing, non-overlapping offset order, then {@link #finish()} for the END record.
 *
 * <p>A writer closed without {@link #finish()} (because the caller failed part-way) writes no END
 * record and drops what it still buffers, so the stream it leaves is one every reader refuses.
 *
 * <p>Arguments that would break a rule of the format throw {@link IllegalArgumentException} and
 * write nothing; the stream stays good and writing can go on. After an {@link IOException} the
 * stream is incomplete and the writer only closes. Not thread-safe.
 */
public final class DeltaWriter implements Closeable {
    /** The longest DATA record, 32 MiB; split longer extents. */
    public static final int MAX_DATA_LENGTH = 32 << 20;
    private static final int ZSTD_LEVEL = 3;
    private static final int BUFFER = 1 << 16;

    private final OutputStream out;
    private final Shield shield;
    private final OutputStream body;
    private final long volumeSize;
    private final CRC32C crc = new CRC32C();
    private final CRC32C chain = new CRC32C();
    private final byte[] fields = new byte[32];
    private final byte[] crcBytes = new byte[CRC_BYTES];
    private byte[] copy;
    private long records;
    private long dataBytes;
    private long lastStart = -1;
    private long lastEnd;
    private boolean finished;
    private boolean failed;
    private boolean closed;

    /**
     * Writes the header of a stream described by {@code header} to {@code out}; the body is
     * zstd-compressed when {@code compress}. The writer owns {@code out}: {@link #close()} closes it.
     */
    public DeltaWriter(OutputStream out, DeltaHeader header, boolean compress) throws IOException {
        this.out = Objects.requireNonNull(out, "out");
        this.volumeSize = header.volumeSize();
        byte[] h = DeltaFormat.encodeHeader(header, compress ? DeltaFormat.FLAG_ZSTD : 0);
        out.write(h);
        chain.update(h, h.length - CRC_BYTES, CRC_BYTES);
        shield = new Shield(out);
        body = compress
                ? new ZstdOutputStreamNoFinalizer(shield, ZSTD_LEVEL)
                : new BufferedOutputStream(shield, BUFFER);
    }

    /** Writes a DATA record: {@code buf[off, off + len)} is the volume's data at {@code offset}. */
    public void data(long offset, byte[] buf, int off, int len) throws IOException {
        Objects.checkFromIndexSize(off, len, buf.length);
        checkWritable();
        checkPlace("DATA", offset, len);
        dataFields(offset, len);
        crc.update(buf, off, len);
        int c = (int) crc.getValue();
        try {
            body.write(fields, 0, 1 + DATA_FIELDS);
            body.write(buf, off, len);
            writeCrc(c);
        } catch (IOException | RuntimeException e) {
            failed = true;
            throw e;
        }
        done(c, offset, len);
        dataBytes += len;
    }

    /**
     * Writes a DATA record of {@code src}'s remaining bytes at {@code offset}, and moves its
     * position to its limit. Heap, read-only and direct buffers all work.
     */
    public void data(long offset, ByteBuffer src) throws IOException {
        if (src.hasArray()) {
            data(offset, src.array(), src.arrayOffset() + src.position(), src.remaining());
            src.position(src.limit());
            return;
        }
        int len = src.remaining();
        checkWritable();
        checkPlace("DATA", offset, len);
        dataFields(offset, len);
        crc.update(src.duplicate());
        int c = (int) crc.getValue();
        if (copy == null) {
            copy = new byte[BUFFER];
        }
        try {
            body.write(fields, 0, 1 + DATA_FIELDS);
            ByteBuffer d = src.duplicate();
            while (d.hasRemaining()) {
                int n = Math.min(copy.length, d.remaining());
                d.get(copy, 0, n);
                body.write(copy, 0, n);
            }
            writeCrc(c);
        } catch (IOException | RuntimeException e) {
            failed = true;
            throw e;
        }
        done(c, offset, len);
        dataBytes += len;
        src.position(src.limit());
    }

    /** Writes a ZERO record: {@code [offset, offset + length)} reads as zeroes. */
    public void zero(long offset, long length) throws IOException {
        checkWritable();
        checkPlace("ZERO", offset, length);
        fields[0] = DeltaFormat.ZERO;
        DeltaFormat.putLong(fields, 1, offset);
        DeltaFormat.putLong(fields, 9, length);
        int c = DeltaFormat.crc(crc, fields, 0, 17);
        DeltaFormat.putInt(fields, 17, c);
        write(fields, 1 + DeltaFormat.ZERO_REST);
        done(c, offset, length);
    }

    /**
     * Writes the END record and flushes the stream; {@code out} stays open until {@link #close()}.
     * No records may follow.
     */
    public void finish() throws IOException {
        checkWritable();
        fields[0] = DeltaFormat.END;
        DeltaFormat.putLong(fields, 1, records);
        DeltaFormat.putLong(fields, 9, dataBytes);
        DeltaFormat.putInt(fields, 17, (int) chain.getValue());
        DeltaFormat.putInt(fields, 21, DeltaFormat.crc(crc, fields, 0, 21));
        write(fields, 1 + DeltaFormat.END_REST);
        try {
            body.close(); // ends the zstd frame or empties the buffer; the shield keeps out open
            out.flush();
        } catch (IOException | RuntimeException e) {
            failed = true;
            throw e;
        }
        finished = true;
    }

    /** DATA and ZERO records written so far. */
    public long records() {
        return records;
    }

    /** Bytes of DATA written so far (not counting record fields, before compression). */
    public long dataBytes() {
        return dataBytes;
    }

    /**
     * Closes {@code out}. Without a {@link #finish()} first, no END record is written and buffered
     * records are dropped: the stream is left incomplete, and readers refuse it.
     */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (!finished) {
                shield.discard = true;
                body.close(); // releases the compressor; what it writes goes nowhere
            }
        } finally {
            out.close();
        }
    }

    private void checkWritable() {
        if (closed) {
            throw new IllegalStateException("delta writer is closed");
        }
        if (finished) {
            throw new IllegalStateException("delta stream is finished; no records may follow END");
        }
        if (failed) {
            throw new IllegalStateException("an earlier write failed, so the delta stream is incomplete");
        }
    }

    private void checkPlace(String kind, long offset, long length) {
        if (kind.equals("DATA") && (length <= 0 || length > MAX_DATA_LENGTH)) {
            throw new IllegalArgumentException(
                    "DATA length " + length + " is out of range (1 to " + MAX_DATA_LENGTH + ")");
        }
        if (length <= 0) {
            throw new IllegalArgumentException(kind + " length " + length + " is not positive");
        }
        if (offset < 0) {
            throw new IllegalArgumentException(kind + " offset " + offset + " is negative");
        }
        if (offset < lastStart) {
            throw new IllegalArgumentException(kind + " at offset " + offset
                    + " comes before the previous record at offset " + lastStart
                    + " (records go in increasing offset order)");
        }
        if (offset < lastEnd) {
            throw new IllegalArgumentException(kind + " at offset " + offset
                    + " overlaps the previous record, which ends at " + lastEnd);
        }
        if (length > volumeSize - offset) {
            throw new IllegalArgumentException(kind + " at offset " + offset + " ends at "
                    + Long.toUnsignedString(offset + length) + ", past the volume size " + volumeSize);
        }
    }

    /** Fills the DATA type and fields and starts the record checksum over them. */
    private void dataFields(long offset, int len) {
        fields[0] = DeltaFormat.DATA;
        DeltaFormat.putLong(fields, 1, offset);
        DeltaFormat.putInt(fields, 9, len);
        crc.reset();
        crc.update(fields, 0, 1 + DATA_FIELDS);
    }

    private void writeCrc(int c) throws IOException {
        DeltaFormat.putInt(fields, 1 + DATA_FIELDS, c);
        body.write(fields, 1 + DATA_FIELDS, CRC_BYTES);
    }

    private void write(byte[] b, int len) throws IOException {
        try {
            body.write(b, 0, len);
        } catch (IOException | RuntimeException e) {
            failed = true;
            throw e;
        }
    }

    private void done(int recordCrc, long offset, long length) {
        DeltaFormat.putInt(crcBytes, 0, recordCrc);
        chain.update(crcBytes, 0, CRC_BYTES);
        records++;
        lastStart = offset;
        lastEnd = offset + length;
    }

    /** Passes writes to {@code out} whole, never closes it, and can drop everything. */
    private static final class Shield extends OutputStream {
        private final OutputStream out;
        boolean discard;

        Shield(OutputStream out) {
            this.out = out;
        }

        @Override
        public void write(int b) throws IOException {
            if (!discard) {
                out.write(b);
            }
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            if (!discard) {
                out.write(b, off, len);
            }
        }

        @Override
        public void flush() throws IOException {
            if (!discard) {
                out.flush();
            }
        }

        @Override
        public void close() {}
    }
}
