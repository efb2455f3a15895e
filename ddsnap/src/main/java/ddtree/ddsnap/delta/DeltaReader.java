package ddtree.ddsnap.delta;

import static ddtree.ddsnap.delta.DeltaFormat.CRC_BYTES;
import static ddtree.ddsnap.delta.DeltaFormat.DATA_FIELDS;

import com.github.luben.zstd.ZstdException;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;
import java.util.zip.CRC32C;

/**
 * Reads a delta stream and checks it as it goes: the header at construction, then one record per
 * {@link #next()} until the END record, after which the stream must end.
 *
 * <p>Every problem is a {@link DeltaFormatException} naming the record (numbered from 1 in stream
 * order, END included) and the byte where the record starts, counted over the header and the body
 * as decoded. A record is only returned once its checksum and its place are verified, but the
 * stream as a whole is only known good when {@link #next()} has returned null: an applier must not
 * commit anything before then. I/O errors of the source pass through as plain IOExceptions.
 *
 * <p>DATA bytes live in one buffer the reader reuses: a record's {@link DeltaRecord#data()} is valid
 * until the next {@link #next()}. Not thread-safe.
 */
public final class DeltaReader implements Closeable {
    private static final int FIRST_BUFFER = 1 << 16;

    private final DeltaHeader header;
    private final boolean compressed;
    private final BodyInput body;
    private final CRC32C crc = new CRC32C();
    private final CRC32C chain = new CRC32C();
    private final byte[] fields = new byte[32];
    private byte[] data = new byte[FIRST_BUFFER];
    /** Bytes consumed: the header plus the body as decoded. */
    private long pos;
    private long records;
    private long dataBytes;
    private long lastStart = -1;
    private long lastEnd;
    private boolean ended;
    private boolean closed;
    /** The error that stopped the reader: the stream is no further use after it. */
    private IOException failure;

    /**
     * Reads and checks the header of the stream {@code in}. The reader owns {@code in} and closes
     * it on {@link #close()}; when this constructor throws, {@code in} is left open.
     */
    public DeltaReader(InputStream in) throws IOException {
        Objects.requireNonNull(in, "in");
        byte[] h = new byte[DeltaFormat.HEADER_MAX];
        int magic = in.readNBytes(h, 0, DeltaFormat.MAGIC.length);
        if (!Arrays.equals(h, 0, magic, DeltaFormat.MAGIC, 0, magic)) {
            throw new DeltaFormatException("not a ddsnap delta stream (magic " + DeltaFormat.hex(h, 0, magic) + ")");
        }
        if (magic == 0) {
            throw new DeltaFormatException("not a ddsnap delta stream (it is empty)");
        }
        int at = magic;
        at = readHeader(in, h, at, DeltaFormat.VERSION_AT + 2);
        int version = DeltaFormat.getU16(h, DeltaFormat.VERSION_AT);
        if (version != DeltaFormat.VERSION) {
            throw new DeltaFormatException("delta stream version " + version
                    + " is not supported (this build reads " + DeltaFormat.VERSION + ")");
        }
        at = readHeader(in, h, at, DeltaFormat.FROM_NAME_LENGTH + 2);
        int fromLength = nameLength(h, DeltaFormat.FROM_NAME_LENGTH, "FROM");
        int toLengthAt = DeltaFormat.FROM_NAME_LENGTH + 2 + fromLength;
        at = readHeader(in, h, at, toLengthAt + 2);
        int toLength = nameLength(h, toLengthAt, "TO");
        int crcAt = toLengthAt + 2 + toLength;
        at = readHeader(in, h, at, crcAt + CRC_BYTES);
        int stored = DeltaFormat.getInt(h, crcAt);
        int computed = DeltaFormat.crc(crc, h, 0, crcAt);
        if (stored != computed) {
            throw new DeltaFormatException(
                    String.format("delta stream header checksum 0x%08x != 0x%08x", stored, computed));
        }
        int flags = DeltaFormat.getU16(h, DeltaFormat.FLAGS_AT);
        if ((flags & ~DeltaFormat.KNOWN_FLAGS) != 0) {
            throw new DeltaFormatException(
                    String.format("delta stream header: flags 0x%04x are not known to this build", flags));
        }
        try {
            header = new DeltaHeader(
                    DeltaFormat.getInt(h, DeltaFormat.CHUNK_SIZE_AT),
                    DeltaFormat.getLong(h, DeltaFormat.VOLUME_SIZE_AT),
                    name(h, DeltaFormat.FROM_NAME_LENGTH + 2, fromLength, "FROM"),
                    DeltaFormat.getLong(h, DeltaFormat.FROM_GUID_AT),
                    name(h, toLengthAt + 2, toLength, "TO"),
                    DeltaFormat.getLong(h, DeltaFormat.TO_GUID_AT),
                    DeltaFormat.getLong(h, DeltaFormat.CREATED_AT));
        } catch (IllegalArgumentException e) {
            throw new DeltaFormatException("delta stream header: " + e.getMessage(), e);
        }
        compressed = (flags & DeltaFormat.FLAG_ZSTD) != 0;
        pos = at;
        chain.update(h, crcAt, CRC_BYTES);
        body = new BodyInput(in, compressed);
    }

    public DeltaHeader header() {
        return header;
    }

    /** Whether the body is zstd-compressed. */
    public boolean compressed() {
        return compressed;
    }

    /**
     * The next record, checked; null once the END record has been read and checked against the
     * whole stream, and the stream has ended with it.
     *
     * @throws DeltaFormatException when the stream is corrupt, cut short or breaks a rule of the
     *     format
     * @throws IOException when the source fails; after any exception every later call throws the
     *     same one again
     */
    public DeltaRecord next() throws IOException {
        if (closed) {
            throw new IllegalStateException("delta reader is closed");
        }
        if (failure != null) {
            throw failure;
        }
        if (ended) {
            return null;
        }
        try {
            return read();
        } catch (IOException e) {
            failure = e;
            throw e;
        }
    }

    /** DATA and ZERO records returned so far. */
    public long records() {
        return records;
    }

    /** Bytes of DATA returned so far. */
    public long dataBytes() {
        return dataBytes;
    }

    /** Closes the source. */
    @Override
    public void close() throws IOException {
        if (!closed) {
            closed = true;
            body.close();
        }
    }

    private DeltaRecord read() throws IOException {
        long number = records + 1;
        long start = pos;
        if (body(fields, 0, 1, number, start) == 0) {
            String after = records == 0 ? "the header" : "record " + records;
            if (body.stoppedInsideFrame()) {
                throw new DeltaFormatException("delta stream cut short after " + after + " (at byte " + pos
                        + "; its compressed body stops inside its zstd frame)");
            }
            throw new DeltaFormatException(
                    "delta stream ends without its END record (after " + after + ", at byte " + pos + ")");
        }
        return switch (fields[0]) {
            case DeltaFormat.DATA -> readData(number, start);
            case DeltaFormat.ZERO -> readZero(number, start);
            case DeltaFormat.END -> readEnd(number, start);
            default -> throw new DeltaFormatException(
                    at(number, start) + String.format("unknown record type 0x%02x", fields[0] & 0xFF));
        };
    }

    private DeltaRecord readData(long number, long start) throws IOException {
        fixed(DATA_FIELDS, "a DATA record", number, start);
        long offset = DeltaFormat.getLong(fields, 1);
        long length = DeltaFormat.getInt(fields, 9) & 0xFFFFFFFFL;
        if (length == 0 || length > DeltaWriter.MAX_DATA_LENGTH) {
            throw new DeltaFormatException(at(number, start) + "DATA length " + length
                    + " is out of range (1 to " + DeltaWriter.MAX_DATA_LENGTH + ")");
        }
        int len = (int) length;
        if (data.length < len) {
            data = new byte[Math.min(DeltaWriter.MAX_DATA_LENGTH, Math.max(len, 2 * data.length))];
        }
        int got = body(data, 0, len, number, start);
        if (got < len) {
            throw new DeltaFormatException(cutShort(number, start)
                    + "DATA at offset " + Long.toUnsignedString(offset) + ", " + got + " of " + len + " bytes)");
        }
        got = body(fields, 1 + DATA_FIELDS, CRC_BYTES, number, start);
        if (got < CRC_BYTES) {
            throw new DeltaFormatException(cutShort(number, start) + "DATA at offset "
                    + Long.toUnsignedString(offset) + ", " + got + " of " + CRC_BYTES + " checksum bytes)");
        }
        crc.reset();
        crc.update(fields, 0, 1 + DATA_FIELDS);
        crc.update(data, 0, len);
        int c = checkCrc((int) crc.getValue(), DeltaFormat.getInt(fields, 1 + DATA_FIELDS), number, start);
        place("DATA", offset, length, number, start);
        accept(c, offset, length);
        dataBytes += length;
        ByteBuffer view = ByteBuffer.wrap(data).slice(0, len).asReadOnlyBuffer();
        return new DeltaRecord(DeltaRecord.Type.DATA, offset, length, view);
    }

    private DeltaRecord readZero(long number, long start) throws IOException {
        fixed(DeltaFormat.ZERO_REST, "a ZERO record", number, start);
        long offset = DeltaFormat.getLong(fields, 1);
        long length = DeltaFormat.getLong(fields, 9);
        int c = checkCrc(DeltaFormat.crc(crc, fields, 0, 17), DeltaFormat.getInt(fields, 17), number, start);
        if (length == 0) {
            throw new DeltaFormatException(at(number, start) + "ZERO length is 0");
        }
        place("ZERO", offset, length, number, start);
        accept(c, offset, length);
        return new DeltaRecord(DeltaRecord.Type.ZERO, offset, length, null);
    }

    private DeltaRecord readEnd(long number, long start) throws IOException {
        fixed(DeltaFormat.END_REST, "the END record", number, start);
        checkCrc(DeltaFormat.crc(crc, fields, 0, 21), DeltaFormat.getInt(fields, 21), number, start);
        long count = DeltaFormat.getLong(fields, 1);
        long bytes = DeltaFormat.getLong(fields, 9);
        int check = DeltaFormat.getInt(fields, 17);
        if (count != records) {
            throw new DeltaFormatException(at(number, start) + "END says " + Long.toUnsignedString(count)
                    + " records, the stream had " + records);
        }
        if (bytes != dataBytes) {
            throw new DeltaFormatException(at(number, start) + "END says " + Long.toUnsignedString(bytes)
                    + " data bytes, the stream had " + dataBytes);
        }
        int want = (int) chain.getValue();
        if (check != want) {
            throw new DeltaFormatException(at(number, start) + String.format(
                    "END's whole-stream check 0x%08x != 0x%08x (the records do not belong to this header)",
                    check, want));
        }
        String rest;
        try {
            rest = body.rest();
        } catch (ZstdException e) {
            throw new DeltaFormatException("delta stream has bytes after its END record that cannot be decoded (zstd: "
                    + e.getMessage() + ")", e);
        }
        if (rest != null) {
            throw new DeltaFormatException("delta stream " + rest + " (at byte " + pos + ")");
        }
        ended = true;
        return null;
    }

    /** Reads the {@code count} bytes after the type byte into {@code fields}, refusing a short read. */
    private void fixed(int count, String what, long number, long start) throws IOException {
        int got = body(fields, 1, count, number, start);
        if (got < count) {
            throw new DeltaFormatException(
                    cutShort(number, start) + what + ", " + (1 + got) + " of " + (1 + count) + " bytes)");
        }
    }

    private int checkCrc(int computed, int stored, long number, long start) throws DeltaFormatException {
        if (computed != stored) {
            throw new DeltaFormatException(at(number, start)
                    + String.format("checksum mismatch (stored 0x%08x, computed 0x%08x)", stored, computed));
        }
        return computed;
    }

    /** Refuses a record that is out of order, overlaps the one before, or leaves the volume. */
    private void place(String kind, long offset, long length, long number, long start) throws DeltaFormatException {
        long volume = header.volumeSize();
        String what = kind + " at offset " + Long.toUnsignedString(offset);
        if (offset < 0 || length < 0) {
            throw new DeltaFormatException(at(number, start) + what + " of length "
                    + Long.toUnsignedString(length) + " goes past the volume size " + volume);
        }
        if (offset < lastStart) {
            throw new DeltaFormatException(at(number, start) + what + " comes before the previous record at offset "
                    + lastStart + " (records go in increasing offset order)");
        }
        if (offset < lastEnd) {
            throw new DeltaFormatException(
                    at(number, start) + what + " overlaps the previous record, which ends at " + lastEnd);
        }
        if (length > volume - offset) {
            throw new DeltaFormatException(at(number, start) + what + " ends at "
                    + Long.toUnsignedString(offset + length) + ", past the volume size " + volume);
        }
    }

    private void accept(int recordCrc, long offset, long length) {
        DeltaFormat.putInt(fields, 28, recordCrc);
        chain.update(fields, 28, CRC_BYTES);
        records++;
        lastStart = offset;
        lastEnd = offset + length;
    }

    /** Reads body bytes, turning a zstd decoding error into a format error at this record. */
    private int body(byte[] b, int off, int len, long number, long start) throws IOException {
        try {
            int n = body.read(b, off, len);
            pos += n;
            return n;
        } catch (ZstdException e) {
            throw new DeltaFormatException(
                    at(number, start) + "the compressed body cannot be decoded (zstd: " + e.getMessage() + ")", e);
        }
    }

    private static String at(long number, long start) {
        return "delta stream record " + number + " at byte " + start + ": ";
    }

    private static String cutShort(long number, long start) {
        return "delta stream cut short in record " + number + " at byte " + start + " (";
    }

    /** Reads the header up to byte {@code to}, refusing a stream that ends first. */
    private static int readHeader(InputStream in, byte[] h, int at, int to) throws IOException {
        int n = in.readNBytes(h, at, to - at);
        if (n < to - at) {
            throw new DeltaFormatException("delta stream cut short in its header (after " + (at + n) + " bytes)");
        }
        return to;
    }

    private static int nameLength(byte[] h, int at, String which) throws DeltaFormatException {
        int n = DeltaFormat.getU16(h, at);
        if (n > DeltaHeader.MAX_NAME_BYTES) {
            throw new DeltaFormatException("delta stream header: " + which + " name is " + n
                    + " bytes, more than " + DeltaHeader.MAX_NAME_BYTES);
        }
        return n;
    }

    private static String name(byte[] h, int at, int length, String which) throws DeltaFormatException {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(h, at, length))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new DeltaFormatException("delta stream header: " + which + " name is not valid UTF-8", e);
        }
    }
}
