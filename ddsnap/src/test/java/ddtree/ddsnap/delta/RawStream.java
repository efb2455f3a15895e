package ddtree.ddsnap.delta;

import com.github.luben.zstd.Zstd;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;

/**
 * Builds delta streams byte by byte from the layout in docs/ddsnap-delta.md, independently of the
 * writer, so tests can make streams the writer never would: bad fields, wrong order, wrong END.
 */
final class RawStream {
    private final byte[] header;
    private final ByteArrayOutputStream body = new ByteArrayOutputStream();
    private final CRC32C chain = new CRC32C();
    private long records;
    private long dataBytes;

    RawStream(byte[] header) {
        this.header = header;
        chain.update(header, header.length - 4, 4);
    }

    /** A good uncompressed header for a 1 MiB volume, full stream to "snap2". */
    static RawStream plain() {
        return new RawStream(header(1, 0, 4096, 1 << 20, 1700000000000L, "", 0, "snap2", 0x22));
    }

    static byte[] header(int version, int flags, int chunkSize, long volumeSize, long created,
            String from, long fromGuid, String to, long toGuid) {
        return header(version, flags, chunkSize, volumeSize, created,
                from.getBytes(StandardCharsets.UTF_8), fromGuid, to.getBytes(StandardCharsets.UTF_8), toGuid);
    }

    static byte[] header(int version, int flags, int chunkSize, long volumeSize, long created,
            byte[] from, long fromGuid, byte[] to, long toGuid) {
        ByteBuffer b = le(56 + from.length + to.length);
        b.put("DDSNAPDL".getBytes(StandardCharsets.US_ASCII));
        b.putShort((short) version).putShort((short) flags).putInt(chunkSize).putLong(volumeSize);
        b.putLong(created).putLong(fromGuid).putLong(toGuid);
        b.putShort((short) from.length).put(from).putShort((short) to.length).put(to);
        b.putInt(crc(b.array(), b.position()));
        return b.array();
    }

    RawStream data(long offset, byte[] bytes) {
        return dataAs(offset, bytes.length, bytes);
    }

    /** A DATA record whose length field says {@code declared}, followed by {@code bytes}. */
    RawStream dataAs(long offset, int declared, byte[] bytes) {
        ByteBuffer b = le(1 + 8 + 4 + bytes.length + 4);
        b.put((byte) 'D').putLong(offset).putInt(declared).put(bytes);
        b.putInt(crc(b.array(), b.position()));
        dataBytes += bytes.length;
        return record(b.array());
    }

    RawStream zero(long offset, long length) {
        ByteBuffer b = le(1 + 8 + 8 + 4);
        b.put((byte) 'Z').putLong(offset).putLong(length);
        b.putInt(crc(b.array(), b.position()));
        return record(b.array());
    }

    RawStream end() {
        return end(records, dataBytes, (int) chain.getValue());
    }

    RawStream end(long count, long bytes, int check) {
        ByteBuffer b = le(1 + 8 + 8 + 4 + 4);
        b.put((byte) 'E').putLong(count).putLong(bytes).putInt(check);
        b.putInt(crc(b.array(), b.position()));
        body.writeBytes(b.array());
        return this;
    }

    /** Bytes as they are, counted nowhere. */
    RawStream raw(byte... bytes) {
        body.writeBytes(bytes);
        return this;
    }

    int chain() {
        return (int) chain.getValue();
    }

    int headerLength() {
        return header.length;
    }

    int bodyLength() {
        return body.size();
    }

    byte[] bytes() {
        return concat(header, body.toByteArray());
    }

    /** The body as one zstd frame; the header must carry flag 1. */
    byte[] compressed() {
        return concat(header, Zstd.compress(body.toByteArray(), 3));
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] out = new byte[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private RawStream record(byte[] r) {
        body.writeBytes(r);
        chain.update(r, r.length - 4, 4);
        records++;
        return this;
    }

    private static ByteBuffer le(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static int crc(byte[] b, int len) {
        CRC32C c = new CRC32C();
        c.update(b, 0, len);
        return (int) c.getValue();
    }
}
