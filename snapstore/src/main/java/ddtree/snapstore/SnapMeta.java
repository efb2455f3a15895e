package ddtree.snapstore;

import java.io.IOException;

/**
 * The metadata of one snapshot store, open: the journal, the exception tree and the two
 * allocators (store chunks, btree node blocks). Changes made through {@link #tree()} and
 * {@link #chunks()} become durable together at {@link #commit()}.
 *
 * <p>Not thread-safe: the store's owner serialises metadata changes.
 */
public final class SnapMeta implements AutoCloseable {
    private final Journal journal;
    private final MetaBlocks blocks;
    private final ChunkAllocator chunks;
    private final ChunkAllocator nodes;
    private final ExceptionTree tree;
    private final SnapshotTable snapshots;

    private SnapMeta(MetaDevice dev, Journal journal) throws IOException {
        Superblock sb = journal.superblock();
        this.journal = journal;
        this.blocks = new MetaBlocks(dev, journal);
        this.chunks = ChunkAllocator.open("store chunks", blocks, sb.storeMapStart(), sb.storeMapBlocks(),
                sb.storeChunks());
        this.nodes = ChunkAllocator.open("btree nodes", blocks, sb.nodeMapStart(), sb.nodeMapBlocks(),
                sb.nodeBlocks());
        this.tree = ExceptionTree.open(blocks, nodes, sb.nodeStart());
        this.snapshots = SnapshotTable.open(blocks, sb.snapTableStart(), sb.snapTableBlocks());
    }

    /**
     * Writes a new, empty store's metadata over {@code dev} and opens it.
     *
     * @param chunkSize the store's chunk size, recorded for the data path
     * @param storeChunks how many chunks the store device holds
     * @param journalBlocks journal size in metadata blocks (at least 16)
     */
    public static SnapMeta format(MetaDevice dev, int chunkSize, long storeChunks, long journalBlocks)
            throws IOException {
        return format(dev, Superblock.layout(dev.blocks(), chunkSize, storeChunks, journalBlocks));
    }

    /** Writes a new, empty store's metadata laid out as {@code layout} over {@code dev} and opens it. */
    public static SnapMeta format(MetaDevice dev, Superblock layout) throws IOException {
        // Old superblocks go first and new ones last, so a crash during format leaves no valid
        // store rather than an old journal replayed over new maps.
        byte[] zero = new byte[MetaDevice.BLOCK_SIZE];
        dev.write(0, zero);
        dev.write(1, zero);
        dev.flush();
        ExceptionTree.format(dev);
        SnapshotTable.format(dev, layout.snapTableStart(), layout.snapTableBlocks());
        ChunkAllocator.format(dev, layout.storeMapStart(), layout.storeMapBlocks(), layout.storeChunks());
        ChunkAllocator.format(dev, layout.nodeMapStart(), layout.nodeMapBlocks(), layout.nodeBlocks());
        dev.flush();
        return new SnapMeta(dev, Journal.format(dev, layout));
    }

    /** Opens existing metadata, replaying the journal. */
    public static SnapMeta open(MetaDevice dev) throws IOException {
        return new SnapMeta(dev, Journal.open(dev));
    }

    public Superblock superblock() {
        return journal.superblock();
    }

    public ExceptionTree tree() {
        return tree;
    }

    /** The snapshots of this store. */
    public SnapshotTable snapshots() {
        return snapshots;
    }

    /** Allocation of store chunks. */
    public ChunkAllocator chunks() {
        return chunks;
    }

    /** Allocation of btree node blocks. */
    public ChunkAllocator nodeBlocks() {
        return nodes;
    }

    /**
     * Tree and anchor blocks changed since the last commit (changed bitmap blocks are added at
     * commit); commit well before this nears {@link Journal#MAX_TRANSACTION_BLOCKS}.
     */
    public int uncommittedBlocks() {
        return blocks.dirtyBlocks();
    }

    /** Makes every change since the last commit durable, all or nothing. */
    public void commit() throws IOException {
        blocks.commit();
    }

    /**
     * Commits and checkpoints, so the next open replays nothing. The metadata device belongs to
     * the caller and stays open.
     */
    @Override
    public void close() throws IOException {
        commit();
        journal.close();
    }
}
