package ddtree.ddsnap.delta;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;

/** Constants and little-endian field access shared by the writer and the reader. */
final class DeltaFormat {
    static final byte[] MAGIC = "DDSNAPDL".getBytes(StandardCharsets.US_ASCII);
    static final int VERSION = 1;
    /** Header flag bit 0: the body is one zstd frame. */
    static final int FLAG_ZSTD = 1;
    static final int KNOWN_FLAGS = FLAG_ZSTD;

    /** Header offsets; the names and the checksum follow {@link #FROM_NAME_LENGTH}. */
    static final int VERSION_AT = 8;
    static final int FLAGS_AT = 10;
    static final int CHUNK_SIZE_AT = 12;
    static final int VOLUME_SIZE_AT = 16;
    static final int CREATED_AT = 24;
    static final int FROM_GUID_AT = 32;
    static final int TO_GUID_AT = 40;
    static final int FROM_NAME_LENGTH = 48;
    /** The header without its names: fixed fields, two name lengths and the checksum. */
    static final int HEADER_MIN = 56;
    static final int HEADER_MAX = HEADER_MIN + 2 * DeltaHeader.MAX_NAME_BYTES;

    static final byte DATA = 'D';
    static final byte ZERO = 'Z';
    static final byte END = 'E';
    /** Bytes after the type byte: DATA fields (before the data); ZERO and END fields plus checksum. */
    static final int DATA_FIELDS = 12;
    static final int ZERO_REST = 20;
    static final int END_REST = 24;
    static final int CRC_BYTES = 4;

    private static final VarHandle SHORT =
            MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INT =
            MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle LONG =
            MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private DeltaFormat() {}

    static int getU16(byte[] b, int at) {
        return (short) SHORT.get(b, at) & 0xFFFF;
    }

    static void putU16(byte[] b, int at, int v) {
        SHORT.set(b, at, (short) v);
    }

    static int getInt(byte[] b, int at) {
        return (int) INT.get(b, at);
    }

    static void putInt(byte[] b, int at, int v) {
        INT.set(b, at, v);
    }

    static long getLong(byte[] b, int at) {
        return (long) LONG.get(b, at);
    }

    static void putLong(byte[] b, int at, long v) {
        LONG.set(b, at, v);
    }

    static int crc(CRC32C c, byte[] b, int off, int len) {
        c.reset();
        c.update(b, off, len);
        return (int) c.getValue();
    }

    /** The whole header, checksum included. */
    static byte[] encodeHeader(DeltaHeader h, int flags) {
        byte[] from = DeltaHeader.nameBytes(h.fromName(), "FROM");
        byte[] to = DeltaHeader.nameBytes(h.toName(), "TO");
        byte[] b = new byte[HEADER_MIN + from.length + to.length];
        System.arraycopy(MAGIC, 0, b, 0, MAGIC.length);
        putU16(b, VERSION_AT, VERSION);
        putU16(b, FLAGS_AT, flags);
        putInt(b, CHUNK_SIZE_AT, h.chunkSize());
        putLong(b, VOLUME_SIZE_AT, h.volumeSize());
        putLong(b, CREATED_AT, h.createdMillis());
        putLong(b, FROM_GUID_AT, h.fromGuid());
        putLong(b, TO_GUID_AT, h.toGuid());
        int at = FROM_NAME_LENGTH;
        putU16(b, at, from.length);
        System.arraycopy(from, 0, b, at + 2, from.length);
        at += 2 + from.length;
        putU16(b, at, to.length);
        System.arraycopy(to, 0, b, at + 2, to.length);
        at += 2 + to.length;
        putInt(b, at, crc(new CRC32C(), b, 0, at));
        return b;
    }

    static String hex(byte[] b, int off, int len) {
        StringBuilder s = new StringBuilder("0x");
        for (int i = 0; i < len; i++) {
            s.append(String.format("%02x", b[off + i] & 0xFF));
        }
        return s.toString();
    }
}
