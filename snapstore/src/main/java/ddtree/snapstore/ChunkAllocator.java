package ddtree.snapstore;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.BitSet;

/**
 * A bitmap allocator over {@code units} units (store chunks, or blocks of the node area), kept in
 * journaled bitmap blocks so an allocation and the tree change that uses it commit together.
 *
 * <p>The whole bitmap is held in memory (one bit per unit: 32 MiB for a terabyte of 4 KiB chunks);
 * changed bitmap blocks are sealed and staged once per commit.
 */
public final class ChunkAllocator {
    private static final int WORDS_PER_BLOCK = (int) (Superblock.BITS_PER_MAP_BLOCK / 64);

    private final String name;
    private final MetaBlocks blocks;
    private final long mapStart;
    private final long units;
    private final long[] words;
    private final BitSet dirtyBlocks = new BitSet();
    private long free;
    /** Where the next search starts: allocations go forward, so freed units are reused in turn. */
    private long cursor;

    private ChunkAllocator(String name, MetaBlocks blocks, long mapStart, long mapBlocks, long units) {
        this.name = name;
        this.blocks = blocks;
        this.mapStart = mapStart;
        this.units = units;
        this.words = new long[Math.toIntExact(mapBlocks * WORDS_PER_BLOCK)];
        blocks.beforeCommit(this::stage);
    }

    /** Writes an empty bitmap (every unit free) straight to the device; for a new store only. */
    static void format(MetaDevice dev, long mapStart, long mapBlocks, long units) throws IOException {
        for (long k = 0; k < mapBlocks; k++) {
            byte[] image = new byte[MetaDevice.BLOCK_SIZE];
            for (long bit = 0; bit < Superblock.BITS_PER_MAP_BLOCK; bit++) {
                if (k * Superblock.BITS_PER_MAP_BLOCK + bit >= units) {
                    // Units past the end are marked used, so no search ever hands one out.
                    image[BlockHeader.SIZE + (int) (bit >>> 3)] |= (byte) (1 << (bit & 7));
                }
            }
            BlockHeader.seal(image, BlockHeader.MAGIC_BITMAP, mapStart + k);
            dev.write(mapStart + k, image);
        }
    }

    /** Loads the bitmap through {@code blocks}, verifying every block. */
    static ChunkAllocator open(String name, MetaBlocks blocks, long mapStart, long mapBlocks, long units)
            throws IOException {
        if (units > mapBlocks * Superblock.BITS_PER_MAP_BLOCK) {
            throw new MetadataCorruptException(name + " map: " + units + " units do not fit in " + mapBlocks
                    + " bitmap blocks");
        }
        ChunkAllocator a = new ChunkAllocator(name, blocks, mapStart, mapBlocks, units);
        for (int k = 0; k < mapBlocks; k++) {
            ByteBuffer b = BlockHeader.wrap(blocks.read(mapStart + k, BlockHeader.MAGIC_BITMAP, name + " map"));
            for (int w = 0; w < WORDS_PER_BLOCK; w++) {
                a.words[k * WORDS_PER_BLOCK + w] = b.getLong(BlockHeader.SIZE + 8 * w);
            }
        }
        long used = 0;
        for (long word : a.words) {
            used += Long.bitCount(word);
        }
        long padding = (long) a.words.length * 64 - units;
        a.free = units - (used - padding);
        for (long u = units; u < (long) a.words.length * 64; u++) {
            if (!a.isAllocated(u)) {
                throw new MetadataCorruptException(name + " map: unit " + u + " past the end (" + units
                        + " units) is marked free");
            }
        }
        return a;
    }

    public long units() {
        return units;
    }

    public long free() {
        return free;
    }

    public boolean isAllocated(long unit) {
        return (words[(int) (unit >>> 6)] >>> (unit & 63) & 1) != 0;
    }

    /** Takes a free unit and returns it. */
    public long allocate() throws NoSpaceException {
        if (free == 0) {
            throw new NoSpaceException(name + ": all " + units + " units are in use");
        }
        int start = (int) (cursor >>> 6);
        for (int i = 0; i <= words.length; i++) {
            int w = (start + i) % words.length;
            if (words[w] != -1L) {
                long unit = ((long) w << 6) + Long.numberOfTrailingZeros(~words[w]);
                set(unit, true);
                free--;
                cursor = unit + 1 == units ? 0 : unit + 1;
                return unit;
            }
        }
        throw new IllegalStateException(name + ": free count " + free + " but no free bit in the map");
    }

    /** Gives back {@code unit}, which must be allocated. */
    public void free(long unit) {
        if (unit < 0 || unit >= units) {
            throw new IllegalArgumentException(name + ": unit " + unit + " outside 0.." + (units - 1));
        }
        if (!isAllocated(unit)) {
            throw new IllegalStateException(name + ": unit " + unit + " freed twice");
        }
        set(unit, false);
        free++;
    }

    private void set(long unit, boolean used) {
        int w = (int) (unit >>> 6);
        long bit = 1L << (unit & 63);
        words[w] = used ? words[w] | bit : words[w] & ~bit;
        dirtyBlocks.set(w / WORDS_PER_BLOCK);
    }

    /** Seals and stages the bitmap blocks changed since the last commit. */
    private void stage() {
        for (int k = dirtyBlocks.nextSetBit(0); k >= 0; k = dirtyBlocks.nextSetBit(k + 1)) {
            byte[] image = new byte[MetaDevice.BLOCK_SIZE];
            ByteBuffer b = BlockHeader.wrap(image);
            for (int w = 0; w < WORDS_PER_BLOCK; w++) {
                b.putLong(BlockHeader.SIZE + 8 * w, words[k * WORDS_PER_BLOCK + w]);
            }
            BlockHeader.seal(image, BlockHeader.MAGIC_BITMAP, mapStart + k);
            blocks.write(mapStart + k, image);
        }
        dirtyBlocks.clear();
    }
}
