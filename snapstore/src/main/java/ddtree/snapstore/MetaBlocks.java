package ddtree.snapstore;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The metadata blocks as the engine sees them: reads see the current transaction's changes first,
 * then a cache of clean blocks, then the device. Changed blocks stay in memory until
 * {@link #commit()} hands them to the journal as one transaction.
 */
public final class MetaBlocks {
    private static final int CLEAN_CACHE_BLOCKS = 4096;

    private final MetaDevice dev;
    private final Journal journal;
    private final TreeMap<Long, byte[]> dirty = new TreeMap<>();
    private final LinkedHashMap<Long, byte[]> clean = new LinkedHashMap<>(256, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, byte[]> eldest) {
            return size() > CLEAN_CACHE_BLOCKS;
        }
    };

    private final List<Runnable> preparers = new ArrayList<>();

    MetaBlocks(MetaDevice dev, Journal journal) {
        this.dev = dev;
        this.journal = journal;
    }

    /**
     * The current image of {@code block}, verified as kind {@code magic}. The caller must not
     * change the array: it may be shared with the cache.
     */
    byte[] read(long block, int magic, String what) throws IOException {
        byte[] image = dirty.get(block);
        if (image == null) {
            image = clean.get(block);
        }
        if (image == null) {
            image = new byte[MetaDevice.BLOCK_SIZE];
            dev.read(block, image);
            BlockHeader.verify(image, magic, block, what);
            clean.put(block, image);
        }
        return image;
    }

    /** Stages {@code image} (sealed by the caller) as the new contents of {@code block}. */
    void write(long block, byte[] image) {
        clean.remove(block);
        dirty.put(block, image);
    }

    /** How many blocks the current transaction changes. */
    public int dirtyBlocks() {
        return dirty.size();
    }

    /**
     * Runs {@code stage} at the start of every commit, so a component that changes a block many
     * times in one transaction can stage (and checksum) it once.
     */
    void beforeCommit(Runnable stage) {
        preparers.add(stage);
    }

    /**
     * Makes the staged changes durable as one journal transaction. If it throws, the in-memory
     * state is ahead of the device and the store must be reopened.
     */
    public void commit() throws IOException {
        preparers.forEach(Runnable::run);
        if (dirty.size() > Journal.MAX_TRANSACTION_BLOCKS) {
            throw new IllegalStateException("transaction changes " + dirty.size() + " blocks, more than "
                    + Journal.MAX_TRANSACTION_BLOCKS + "; commit more often");
        }
        journal.commit(dirty);
        clean.putAll(dirty);
        dirty.clear();
    }
}
