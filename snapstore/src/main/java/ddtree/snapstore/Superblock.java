package ddtree.snapstore;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The superblock: the metadata geometry and the journal checkpoint. Two copies (blocks 0 and 1)
 * are written alternately, so a torn write leaves the other; the valid copy with the higher
 * sequence wins at open.
 *
 * @param sequence incremented at every checkpoint; decides which copy is current
 * @param checkpointBlock journal block (relative) where replay starts
 * @param checkpointSequence the sequence the first transaction there must carry
 * @param snapTableStart first block of the snapshot table
 * @param snapTableBlocks blocks in the snapshot table (a header block, then record blocks)
 * @param dataStart byte offset of store chunk 0 on the store device: past the metadata when
 *     both share one device, else 0
 */
public record Superblock(
        long sequence,
        int chunkSize,
        long storeChunks,
        long journalStart,
        long journalBlocks,
        long storeMapStart,
        long storeMapBlocks,
        long nodeMapStart,
        long nodeMapBlocks,
        long nodeStart,
        long nodeBlocks,
        long checkpointBlock,
        long checkpointSequence,
        long snapTableStart,
        long snapTableBlocks,
        long dataStart) {

    public static final int VERSION = 2;
    /** Snapshot records a table holds when the caller does not say. */
    public static final int DEFAULT_SNAPSHOT_CAPACITY = 1024;
    /** The anchor block: root of the exception tree, journaled like the rest. */
    public static final long ANCHOR_BLOCK = 2;
    static final long FIRST_FREE_BLOCK = 3;
    /** Allocation bits per bitmap block. */
    public static final long BITS_PER_MAP_BLOCK = (MetaDevice.BLOCK_SIZE - BlockHeader.SIZE) * 8L;

    /**
     * Lays out a new store with a {@link #DEFAULT_SNAPSHOT_CAPACITY}-snapshot table and its data on
     * a device of its own.
     */
    public static Superblock layout(long deviceBlocks, int chunkSize, long storeChunks, long journalBlocks) {
        return layout(deviceBlocks, chunkSize, storeChunks, journalBlocks, DEFAULT_SNAPSHOT_CAPACITY, 0);
    }

    /**
     * Lays out a new store on {@code deviceBlocks} metadata blocks: the journal first, then the
     * snapshot table, the two bitmaps, and every remaining block for btree nodes.
     */
    public static Superblock layout(long deviceBlocks, int chunkSize, long storeChunks, long journalBlocks,
            long snapshotCapacity, long dataStart) {
        if (Integer.bitCount(chunkSize) != 1 || chunkSize < 4096 || chunkSize > (1 << 20)) {
            throw new IllegalArgumentException("chunk size " + chunkSize + " is not a power of two from 4K to 1M");
        }
        if (storeChunks < 1) {
            throw new IllegalArgumentException("store chunks " + storeChunks + " must be positive");
        }
        if (journalBlocks < 16) {
            throw new IllegalArgumentException("journal of " + journalBlocks + " blocks is under the minimum 16");
        }
        if (snapshotCapacity < 1 || snapshotCapacity > SharingSet.MAX_ID) {
            throw new IllegalArgumentException("snapshot capacity " + snapshotCapacity + " outside 1.." + SharingSet.MAX_ID);
        }
        if (dataStart < 0 || dataStart % MetaDevice.BLOCK_SIZE != 0) {
            throw new IllegalArgumentException("data start " + dataStart + " is not a whole number of blocks");
        }
        long journalStart = FIRST_FREE_BLOCK;
        long snapTableStart = journalStart + journalBlocks;
        long snapTableBlocks = SnapshotTable.blocksFor(snapshotCapacity);
        long storeMapStart = snapTableStart + snapTableBlocks;
        long storeMapBlocks = ceilDiv(storeChunks, BITS_PER_MAP_BLOCK);
        long nodeMapStart = storeMapStart + storeMapBlocks;
        long rest = deviceBlocks - nodeMapStart;
        // Each node-map block covers BITS_PER_MAP_BLOCK node blocks; solve for the split of the rest.
        long nodeMapBlocks = ceilDiv(Math.max(rest, 1), BITS_PER_MAP_BLOCK + 1);
        long nodeStart = nodeMapStart + nodeMapBlocks;
        long nodeBlocks = deviceBlocks - nodeStart;
        if (nodeBlocks < 8) {
            throw new IllegalArgumentException("metadata device of " + deviceBlocks + " blocks leaves "
                    + nodeBlocks + " for btree nodes (need 8) after a " + journalBlocks + "-block journal and "
                    + storeMapBlocks + " bitmap blocks for " + storeChunks + " chunks");
        }
        return new Superblock(0, chunkSize, storeChunks, journalStart, journalBlocks, storeMapStart,
                storeMapBlocks, nodeMapStart, nodeMapBlocks, nodeStart, nodeBlocks, 0, 1, snapTableStart,
                snapTableBlocks, dataStart);
    }

    static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }

    /** This superblock after a checkpoint that leaves the journal empty, expecting {@code nextSequence}. */
    Superblock checkpoint(long nextSequence) {
        return new Superblock(sequence + 1, chunkSize, storeChunks, journalStart, journalBlocks, storeMapStart,
                storeMapBlocks, nodeMapStart, nodeMapBlocks, nodeStart, nodeBlocks, 0, nextSequence, snapTableStart,
                snapTableBlocks, dataStart);
    }

    /** The copy (0 or 1) this superblock is written to. */
    long copy() {
        return sequence & 1;
    }

    byte[] encode() {
        byte[] image = new byte[MetaDevice.BLOCK_SIZE];
        ByteBuffer b = BlockHeader.wrap(image);
        b.putInt(16, VERSION).putInt(20, MetaDevice.BLOCK_SIZE).putLong(24, sequence).putInt(32, chunkSize);
        b.putLong(40, storeChunks).putLong(48, journalStart).putLong(56, journalBlocks);
        b.putLong(64, storeMapStart).putLong(72, storeMapBlocks).putLong(80, nodeMapStart);
        b.putLong(88, nodeMapBlocks).putLong(96, nodeStart).putLong(104, nodeBlocks);
        b.putLong(112, checkpointBlock).putLong(120, checkpointSequence);
        b.putLong(128, snapTableStart).putLong(136, snapTableBlocks).putLong(144, dataStart);
        BlockHeader.seal(image, BlockHeader.MAGIC_SUPER, copy());
        return image;
    }

    static Superblock decode(byte[] image, long copy) throws MetadataCorruptException {
        BlockHeader.verify(image, BlockHeader.MAGIC_SUPER, copy, "superblock");
        ByteBuffer b = BlockHeader.wrap(image);
        int version = b.getInt(16);
        if (version != VERSION) {
            throw new MetadataCorruptException("superblock at block " + copy + ": format version " + version
                    + ", this build reads " + VERSION);
        }
        int blockSize = b.getInt(20);
        if (blockSize != MetaDevice.BLOCK_SIZE) {
            throw new MetadataCorruptException("superblock at block " + copy + ": block size " + blockSize
                    + " != " + MetaDevice.BLOCK_SIZE);
        }
        Superblock sb = new Superblock(b.getLong(24), b.getInt(32), b.getLong(40), b.getLong(48), b.getLong(56),
                b.getLong(64), b.getLong(72), b.getLong(80), b.getLong(88), b.getLong(96), b.getLong(104),
                b.getLong(112), b.getLong(120), b.getLong(128), b.getLong(136), b.getLong(144));
        if (sb.copy() != copy) {
            throw new MetadataCorruptException("superblock at block " + copy + ": sequence " + sb.sequence
                    + " belongs in copy " + sb.copy());
        }
        return sb;
    }

    /**
     * Checks that the areas follow one another as {@link #layout} places them and end inside the
     * device, so a checksummed but wrong superblock cannot send writes outside the metadata.
     */
    void checkGeometry(long deviceBlocks) throws MetadataCorruptException {
        String where = "superblock copy " + copy() + " (sequence " + sequence + ")";
        if (journalStart != FIRST_FREE_BLOCK || snapTableStart != journalStart + journalBlocks
                || snapTableBlocks < 2 || storeMapStart != snapTableStart + snapTableBlocks
                || nodeMapStart != storeMapStart + storeMapBlocks || nodeStart != nodeMapStart + nodeMapBlocks) {
            throw new MetadataCorruptException(where + ": areas out of order: journal " + journalStart + "+"
                    + journalBlocks + ", snapshot table " + snapTableStart + "+" + snapTableBlocks + ", store map " + storeMapStart + "+" + storeMapBlocks + ", node map "
                    + nodeMapStart + "+" + nodeMapBlocks + ", nodes " + nodeStart);
        }
        if (nodeBlocks < 1 || nodeStart + nodeBlocks > deviceBlocks) {
            throw new MetadataCorruptException(where + ": node area " + nodeStart + "+" + nodeBlocks
                    + " does not fit the device's " + deviceBlocks + " blocks");
        }
        if (checkpointBlock < 0 || checkpointBlock >= journalBlocks) {
            throw new MetadataCorruptException(where + ": checkpoint at journal block " + checkpointBlock
                    + " outside the " + journalBlocks + "-block journal");
        }
        if (storeChunks > storeMapBlocks * BITS_PER_MAP_BLOCK || nodeBlocks > nodeMapBlocks * BITS_PER_MAP_BLOCK) {
            throw new MetadataCorruptException(where + ": " + storeChunks + " store chunks or " + nodeBlocks
                    + " node blocks do not fit their maps");
        }
    }

    /** Reads both copies and returns the valid one with the higher sequence. */
    static Superblock read(MetaDevice dev) throws IOException {
        byte[] image = new byte[MetaDevice.BLOCK_SIZE];
        Superblock best = null;
        StringBuilder why = new StringBuilder();
        for (long copy = 0; copy < 2; copy++) {
            dev.read(copy, image);
            try {
                Superblock sb = decode(image, copy);
                if (best == null || sb.sequence > best.sequence) {
                    best = sb;
                }
            } catch (MetadataCorruptException e) {
                why.append(why.isEmpty() ? "" : "; ").append(e.getMessage());
            }
        }
        if (best == null) {
            throw new MetadataCorruptException(dev.name() + ": no valid superblock: " + why);
        }
        best.checkGeometry(dev.blocks());
        return best;
    }
}
