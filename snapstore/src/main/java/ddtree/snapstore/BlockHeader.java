package ddtree.snapstore;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * The 16-byte header every metadata block starts with: magic, CRC32C of the block, and the block's
 * own number (so a block written to the wrong place is caught, not just a torn one).
 */
final class BlockHeader {
    static final int SIZE = 16;
    static final int MAGIC_SUPER = 0x53444453;
    static final int MAGIC_DESCRIPTOR = 0x4353444A;
    static final int MAGIC_COMMIT = 0x544D434A;
    static final int MAGIC_ANCHOR = 0x524E4341;
    static final int MAGIC_BITMAP = 0x50414D42;
    static final int MAGIC_NODE = 0x45444F4E;
    static final int MAGIC_SNAP_HEADER = 0x48504E53;
    static final int MAGIC_SNAP_RECORDS = 0x52504E53;

    private BlockHeader() {}

    static ByteBuffer wrap(byte[] image) {
        return ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Writes magic, block number and checksum into {@code image}; call last, after the body. */
    static void seal(byte[] image, int magic, long block) {
        ByteBuffer b = wrap(image);
        b.putInt(0, magic);
        b.putInt(4, 0);
        b.putLong(8, block);
        b.putInt(4, crc(image));
    }

    /** CRC32C of the block with the checksum field read as zero. */
    static int crc(byte[] image) {
        CRC32C c = new CRC32C();
        c.update(image, 0, 4);
        c.update(new byte[4]);
        c.update(image, 8, image.length - 8);
        return (int) c.getValue();
    }

    /** Null when {@code image} is a good block of kind {@code magic} at {@code block}, else why not. */
    static String problem(byte[] image, int magic, long block) {
        ByteBuffer b = wrap(image);
        if (b.getInt(0) != magic) {
            return String.format("magic 0x%08x != 0x%08x", b.getInt(0), magic);
        }
        int want = crc(image);
        if (b.getInt(4) != want) {
            return String.format("checksum 0x%08x != 0x%08x", b.getInt(4), want);
        }
        if (b.getLong(8) != block) {
            return "header says block " + b.getLong(8);
        }
        return null;
    }

    /** Throws when {@code image} is not a good block of kind {@code magic} at {@code block}. */
    static void verify(byte[] image, int magic, long block, String what) throws MetadataCorruptException {
        String p = problem(image, magic, block);
        if (p != null) {
            throw new MetadataCorruptException(what + " at block " + block + ": " + p);
        }
    }
}
