package ddtree.snapstore;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.zip.CRC32C;

/**
 * The write-ahead journal: makes a set of metadata block writes atomic. A transaction is a
 * descriptor, the block images and a commit record whose CRC32C covers the rest; it counts once
 * the journal blocks are flushed. Images then go to their home blocks, which replay redoes after
 * a crash. See docs/ddsnap-format.md.
 */
public final class Journal {
    /** Most home blocks one transaction can carry: what one descriptor block can list. */
    public static final int MAX_TRANSACTION_BLOCKS = (MetaDevice.BLOCK_SIZE - 32) / 8;

    private final MetaDevice dev;
    private Superblock superblock;
    /** Next free journal block, relative to the journal's start. */
    private long position;
    private long nextSequence;

    private Journal(MetaDevice dev, Superblock superblock, long nextSequence) {
        this.dev = dev;
        this.superblock = superblock;
        this.position = superblock.checkpointBlock();
        this.nextSequence = nextSequence;
    }

    /** Writes both superblock copies of a new store, with an empty journal. */
    static Journal format(MetaDevice dev, Superblock layout) throws IOException {
        Superblock a = layout.checkpoint(1); // sequence 1: copy 1
        Superblock b = a.checkpoint(1); // sequence 2: copy 0, current
        dev.write(a.copy(), a.encode());
        dev.write(b.copy(), b.encode());
        dev.flush();
        return new Journal(dev, b, 1);
    }

    /**
     * Reads the superblock, replays every committed transaction since the last checkpoint, and
     * checkpoints so the journal starts empty.
     */
    static Journal open(MetaDevice dev) throws IOException {
        Superblock sb = Superblock.read(dev);
        Journal j = new Journal(dev, sb, sb.checkpointSequence());
        long last = j.replay();
        // Skip the sequence of whatever stopped replay, so a torn transaction's number is never
        // reused by a transaction that might be read with its leftover blocks.
        j.checkpoint(last + 2);
        return j;
    }

    public Superblock superblock() {
        return superblock;
    }

    /** Returns the sequence of the last transaction replayed (checkpoint sequence - 1 if none). */
    private long replay() throws IOException {
        long expect = superblock.checkpointSequence();
        long pos = superblock.checkpointBlock();
        byte[] descriptor = new byte[MetaDevice.BLOCK_SIZE];
        byte[] commit = new byte[MetaDevice.BLOCK_SIZE];
        while (pos + 2 <= superblock.journalBlocks()) {
            long at = superblock.journalStart() + pos;
            dev.read(at, descriptor);
            if (BlockHeader.problem(descriptor, BlockHeader.MAGIC_DESCRIPTOR, at) != null) {
                break;
            }
            ByteBuffer d = BlockHeader.wrap(descriptor);
            int count = d.getInt(24);
            if (d.getLong(16) != expect || count < 0 || count > MAX_TRANSACTION_BLOCKS
                    || pos + count + 2 > superblock.journalBlocks()) {
                break;
            }
            CRC32C crc = new CRC32C();
            crc.update(descriptor);
            List<byte[]> images = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                byte[] image = new byte[MetaDevice.BLOCK_SIZE];
                dev.read(at + 1 + i, image);
                crc.update(image);
                images.add(image);
            }
            long commitAt = at + 1 + count;
            dev.read(commitAt, commit);
            if (BlockHeader.problem(commit, BlockHeader.MAGIC_COMMIT, commitAt) != null) {
                break;
            }
            ByteBuffer c = BlockHeader.wrap(commit);
            if (c.getLong(16) != expect || c.getInt(24) != count || c.getInt(28) != (int) crc.getValue()) {
                break;
            }
            // A committed transaction naming a block outside the journaled areas is corruption the
            // checksums could not see; refuse it before writing any of it.
            for (int i = 0; i < count; i++) {
                checkHome(d.getLong(32 + 8 * i), "journal transaction " + expect + " at block " + at);
            }
            for (int i = 0; i < count; i++) {
                dev.write(d.getLong(32 + 8 * i), images.get(i));
            }
            expect++;
            pos += count + 2;
        }
        return expect - 1;
    }

    private void checkHome(long home, String where) throws MetadataCorruptException {
        // Only journaled blocks may be named: the anchor, the snapshot table, the bitmaps and the node area.
        if (home != Superblock.ANCHOR_BLOCK && (home < superblock.snapTableStart()
                || home >= superblock.nodeStart() + superblock.nodeBlocks())) {
            throw new MetadataCorruptException(where + ": home block " + home + " is not a journaled block");
        }
    }

    /**
     * Makes the writes in {@code images} (home block -> new image) durable as one: either all of
     * them survive a crash or none does. Returns once they are durable.
     */
    public void commit(SortedMap<Long, byte[]> images) throws IOException {
        int count = images.size();
        if (count == 0) {
            return;
        }
        if (count > MAX_TRANSACTION_BLOCKS || count + 2 > superblock.journalBlocks()) {
            throw new IllegalArgumentException("transaction of " + count + " blocks exceeds the limit "
                    + Math.min(MAX_TRANSACTION_BLOCKS, superblock.journalBlocks() - 2));
        }
        if (position + count + 2 > superblock.journalBlocks()) {
            checkpoint(nextSequence);
        }
        long at = superblock.journalStart() + position;
        byte[] descriptor = new byte[MetaDevice.BLOCK_SIZE];
        ByteBuffer d = BlockHeader.wrap(descriptor);
        d.putLong(16, nextSequence).putInt(24, count);
        int i = 0;
        for (Map.Entry<Long, byte[]> e : images.entrySet()) {
            checkHome(e.getKey(), "transaction " + nextSequence);
            d.putLong(32 + 8 * i++, e.getKey());
        }
        BlockHeader.seal(descriptor, BlockHeader.MAGIC_DESCRIPTOR, at);
        CRC32C crc = new CRC32C();
        crc.update(descriptor);
        dev.write(at, descriptor);
        i = 0;
        for (byte[] image : images.values()) {
            crc.update(image);
            dev.write(at + 1 + i++, image);
        }
        byte[] commit = new byte[MetaDevice.BLOCK_SIZE];
        BlockHeader.wrap(commit).putLong(16, nextSequence).putInt(24, count).putInt(28, (int) crc.getValue());
        BlockHeader.seal(commit, BlockHeader.MAGIC_COMMIT, at + 1 + count);
        dev.write(at + 1 + count, commit);
        dev.flush();
        position += count + 2;
        nextSequence++;
        // Durable now; home writes may be lost in a crash because replay redoes them.
        for (Map.Entry<Long, byte[]> e : images.entrySet()) {
            dev.write(e.getKey(), e.getValue());
        }
    }

    /**
     * Makes every home write durable, then records in the next superblock copy that the journal is
     * empty and that its first transaction will carry {@code sequence}.
     */
    void checkpoint(long sequence) throws IOException {
        dev.flush();
        Superblock next = superblock.checkpoint(sequence);
        dev.write(next.copy(), next.encode());
        dev.flush();
        superblock = next;
        position = 0;
        nextSequence = sequence;
    }

    /** Checkpoints, so the next open has nothing to replay. */
    void close() throws IOException {
        checkpoint(nextSequence);
    }
}
