package ddtree.snapstore;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongConsumer;

/**
 * The exception btree: logical chunk -> the store chunks holding its old data, each with the set
 * of snapshots that share it. Nodes are updated in place; every change goes through
 * {@link MetaBlocks}, so a batch of changes becomes durable atomically at the next commit.
 * Keys are non-negative.
 */
public final class ExceptionTree {
    /** Sees entries in key order; returns false to stop. */
    @FunctionalInterface
    public interface Visitor {
        boolean visit(long chunk, List<SharedChunk> exceptions) throws IOException;
    }

    private static final int UNDERFULL = TreeNode.CAPACITY / 4;

    private final MetaBlocks blocks;
    private final ChunkAllocator nodes;
    private final long nodeStart;
    private long root;
    private int height;
    private long count;

    private ExceptionTree(MetaBlocks blocks, ChunkAllocator nodes, long nodeStart) {
        this.blocks = blocks;
        this.nodes = nodes;
        this.nodeStart = nodeStart;
    }

    /** Writes the anchor of an empty tree straight to the device; for a new store only. */
    static void format(MetaDevice dev) throws IOException {
        dev.write(Superblock.ANCHOR_BLOCK, anchor(0, 0, 0));
    }

    static ExceptionTree open(MetaBlocks blocks, ChunkAllocator nodes, long nodeStart) throws IOException {
        ExceptionTree t = new ExceptionTree(blocks, nodes, nodeStart);
        ByteBuffer b = BlockHeader.wrap(blocks.read(Superblock.ANCHOR_BLOCK, BlockHeader.MAGIC_ANCHOR, "anchor"));
        t.root = b.getLong(16);
        t.height = b.getInt(24);
        t.count = b.getLong(32);
        if ((t.root == 0) != (t.height == 0) || t.height < 0 || t.height > 64) {
            throw new MetadataCorruptException("anchor at block " + Superblock.ANCHOR_BLOCK + ": root " + t.root
                    + " with height " + t.height);
        }
        return t;
    }

    private static byte[] anchor(long root, int height, long count) {
        byte[] image = new byte[MetaDevice.BLOCK_SIZE];
        BlockHeader.wrap(image).putLong(16, root).putInt(24, height).putLong(32, count);
        BlockHeader.seal(image, BlockHeader.MAGIC_ANCHOR, Superblock.ANCHOR_BLOCK);
        return image;
    }

    private void saveAnchor() {
        blocks.write(Superblock.ANCHOR_BLOCK, anchor(root, height, count));
    }

    /** Logical chunks that have exceptions. */
    public long size() {
        return count;
    }

    public int height() {
        return height;
    }

    private TreeNode load(long block, int level) throws IOException {
        return TreeNode.decode(blocks.read(block, BlockHeader.MAGIC_NODE, "btree node"), block, level);
    }

    /**
     * Decoded nodes for lookups and walks, which never change them; writers decode their own
     * copy through {@link #load}, and {@link #store} drops the cached one.
     */
    private final java.util.LinkedHashMap<Long, TreeNode> decoded = new java.util.LinkedHashMap<>(256, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(java.util.Map.Entry<Long, TreeNode> eldest) {
            return size() > DECODED_NODES;
        }
    };
    private static final int DECODED_NODES = 2048;

    private TreeNode read(long block, int level) throws IOException {
        TreeNode n = decoded.get(block);
        if (n == null || n.level != level) {
            n = load(block, level);
            decoded.put(block, n);
        }
        return n;
    }

    private void store(long block, TreeNode node) {
        decoded.remove(block);
        blocks.write(block, node.encode(block));
    }

    private long newBlock() throws IOException {
        return nodeStart + nodes.allocate();
    }

    private void freeBlock(long block) {
        decoded.remove(block);
        nodes.free(block - nodeStart);
    }

    private static void checkKey(long chunk) {
        if (chunk < 0) {
            throw new IllegalArgumentException("logical chunk " + chunk + " is negative");
        }
    }

    /** The exceptions of {@code chunk}, empty if it has none. */
    public List<SharedChunk> lookup(long chunk) throws IOException {
        checkKey(chunk);
        if (root == 0) {
            return List.of();
        }
        long block = root;
        for (int level = height - 1; level > 0; level--) {
            TreeNode n = read(block, level);
            block = n.children.get(n.route(chunk));
        }
        TreeNode leaf = read(block, 0);
        int i = leaf.find(chunk);
        return i >= 0 ? List.copyOf(leaf.values.get(i)) : List.of();
    }

    /**
     * Sets the exceptions of {@code chunk}, replacing what it had; an empty list removes it.
     *
     * @throws IllegalArgumentException if the entry would take more than a node can spare
     */
    public void put(long chunk, List<SharedChunk> exceptions) throws IOException {
        checkKey(chunk);
        if (exceptions.isEmpty()) {
            remove(chunk);
            return;
        }
        List<SharedChunk> value = List.copyOf(exceptions);
        int size = TreeNode.leafEntrySize(value);
        if (size > TreeNode.MAX_ENTRY || value.size() > 0xFFFF) {
            throw new IllegalArgumentException("logical chunk " + chunk + ": " + value.size() + " exceptions take "
                    + size + " bytes, more than the " + TreeNode.MAX_ENTRY + " a node entry may hold");
        }
        if (root == 0) {
            TreeNode leaf = new TreeNode(0);
            leaf.keys.add(chunk);
            leaf.values.add(value);
            root = newBlock();
            height = 1;
            store(root, leaf);
            count = 1;
            saveAnchor();
            return;
        }
        long[] split = insert(root, height - 1, chunk, value);
        if (split != null) {
            TreeNode top = new TreeNode(height);
            top.keys.add(split[2]);
            top.children.add(root);
            top.keys.add(split[0]);
            top.children.add(split[1]);
            root = newBlock();
            height++;
            store(root, top);
        }
        saveAnchor();
    }

    /**
     * Puts {@code chunk -> value} under {@code block}. Returns null, or when the node split,
     * {separator key, new right block, lowest key of the left node}.
     */
    private long[] insert(long block, int level, long chunk, List<SharedChunk> value) throws IOException {
        TreeNode node = load(block, level);
        if (node.isLeaf()) {
            int i = node.find(chunk);
            if (i >= 0) {
                node.values.set(i, value);
            } else {
                node.keys.add(-i - 1, chunk);
                node.values.add(-i - 1, value);
                count++;
            }
        } else {
            int i = node.route(chunk);
            long[] split = insert(node.children.get(i), level - 1, chunk, value);
            boolean lowered = chunk < node.keys.get(0);
            if (lowered) {
                node.keys.set(0, chunk); // entry 0's key stays at or below every key under it
            }
            if (split == null) {
                if (lowered) {
                    store(block, node);
                }
                return null;
            }
            node.keys.add(i + 1, split[0]);
            node.children.add(i + 1, split[1]);
        }
        if (node.fits()) {
            store(block, node);
            return null;
        }
        TreeNode right = new TreeNode(level);
        node.moveTail(node.splitPoint(), right);
        long rightBlock = newBlock();
        store(block, node);
        store(rightBlock, right);
        return new long[] {right.keys.get(0), rightBlock, node.keys.get(0)};
    }

    /** Removes every exception of {@code chunk}; returns whether it had any. */
    public boolean remove(long chunk) throws IOException {
        checkKey(chunk);
        if (root == 0) {
            return false;
        }
        long before = count;
        delete(root, height - 1, chunk);
        if (count == before) {
            return false;
        }
        TreeNode top = load(root, height - 1);
        if (top.size() == 0) {
            freeBlock(root);
            root = 0;
            height = 0;
        } else if (!top.isLeaf() && top.size() == 1) {
            freeBlock(root);
            root = top.children.get(0);
            height--;
        }
        saveAnchor();
        return true;
    }

    /** Deletes {@code chunk} under {@code block}; returns whether the node is now under a quarter full. */
    private boolean delete(long block, int level, long chunk) throws IOException {
        TreeNode node = load(block, level);
        if (node.isLeaf()) {
            int i = node.find(chunk);
            if (i < 0) {
                return false;
            }
            node.keys.remove(i);
            node.values.remove(i);
            count--;
            store(block, node);
            return node.encodedSize() < UNDERFULL;
        }
        int i = node.route(chunk);
        if (!delete(node.children.get(i), level - 1, chunk)) {
            return false;
        }
        if (node.size() > 1) {
            rebalance(node, level, i);
            store(block, node);
        }
        return node.encodedSize() < UNDERFULL;
    }

    /** Merges child {@code i} of {@code parent} with a sibling, or shares entries with it evenly. */
    private void rebalance(TreeNode parent, int level, int i) throws IOException {
        int l = i + 1 < parent.size() ? i : i - 1;
        int r = l + 1;
        long leftBlock = parent.children.get(l);
        long rightBlock = parent.children.get(r);
        TreeNode left = load(leftBlock, level - 1);
        TreeNode right = load(rightBlock, level - 1);
        if (!right.isLeaf()) {
            // Entry 0's key in a node is its lowest key; as a separator it must be the parent's.
            right.keys.set(0, parent.keys.get(r));
        }
        right.moveTail(0, left);
        if (left.fits()) {
            store(leftBlock, left);
            freeBlock(rightBlock);
            parent.keys.remove(r);
            parent.children.remove(r);
            return;
        }
        left.moveTail(left.splitPoint(), right);
        store(leftBlock, left);
        store(rightBlock, right);
        parent.keys.set(r, right.keys.get(0));
    }

    /** Visits entries with keys from {@code from} on, in ascending order, until the visitor says stop. */
    public void forEach(long from, Visitor visitor) throws IOException {
        if (root != 0) {
            walk(root, height - 1, from, visitor);
        }
    }

    private boolean walk(long block, int level, long from, Visitor visitor) throws IOException {
        TreeNode node = read(block, level);
        if (node.isLeaf()) {
            int i = node.find(from);
            for (int k = i >= 0 ? i : -i - 1; k < node.size(); k++) {
                if (!visitor.visit(node.keys.get(k), List.copyOf(node.values.get(k)))) {
                    return false;
                }
            }
            return true;
        }
        for (int k = node.route(from); k < node.size(); k++) {
            if (!walk(node.children.get(k), level - 1, from, visitor)) {
                return false;
            }
        }
        return true;
    }

    /**
     * Takes snapshot {@code snapshot} out of the sharing sets of up to {@code maxChunks} logical
     * chunks from {@code from} on, passing each store chunk no snapshot shares any more to
     * {@code freed}. Returns the chunk to resume from, or -1 when the tree is done: callers commit
     * between batches, so a deletion of any size fits in bounded transactions and can resume
     * after a crash from the last committed position.
     */
    public long removeSnapshot(long snapshot, long from, int maxChunks, LongConsumer freed) throws IOException {
        if (maxChunks < 1) {
            throw new IllegalArgumentException("batch of " + maxChunks + " chunks; need at least 1");
        }
        List<Long> keys = new ArrayList<>();
        List<List<SharedChunk>> values = new ArrayList<>();
        long[] next = {-1};
        forEach(from, (chunk, exceptions) -> {
            if (keys.size() == maxChunks) {
                next[0] = chunk;
                return false;
            }
            keys.add(chunk);
            values.add(exceptions);
            return true;
        });
        for (int k = 0; k < keys.size(); k++) {
            List<SharedChunk> kept = new ArrayList<>();
            boolean changed = false;
            for (SharedChunk c : values.get(k)) {
                SharingSet s = c.sharers().without(snapshot);
                if (s == c.sharers()) {
                    kept.add(c);
                } else if (s.isEmpty()) {
                    freed.accept(c.storeChunk());
                    changed = true;
                } else {
                    kept.add(new SharedChunk(c.storeChunk(), s));
                    changed = true;
                }
            }
            if (changed) {
                put(keys.get(k), kept);
            }
        }
        return next[0];
    }

    /**
     * Walks the whole tree checking what decoding cannot see alone: every key inside its parent's
     * range, all leaves at one depth, and the key count. Returns the number of node blocks.
     */
    public long check() throws IOException {
        if (root == 0) {
            if (count != 0) {
                throw new MetadataCorruptException("empty tree with key count " + count);
            }
            return 0;
        }
        long[] stats = new long[2]; // keys, nodes
        checkNode(root, height - 1, Long.MIN_VALUE, Long.MAX_VALUE, stats);
        if (stats[0] != count) {
            throw new MetadataCorruptException("btree holds " + stats[0] + " keys, anchor says " + count);
        }
        return stats[1];
    }

    private void checkNode(long block, int level, long lo, long hi, long[] stats) throws IOException {
        if (!nodes.isAllocated(block - nodeStart)) {
            throw new MetadataCorruptException("btree node at block " + block + " is free in the node map");
        }
        TreeNode node = load(block, level);
        stats[1]++;
        if (node.size() == 0) {
            throw new MetadataCorruptException("btree node at block " + block + " is empty");
        }
        for (int i = 0; i < node.size(); i++) {
            long k = node.keys.get(i);
            if (k < lo || k >= hi) {
                throw new MetadataCorruptException("btree node at block " + block + ": key " + k
                        + " outside its range " + lo + ".." + hi);
            }
        }
        if (node.isLeaf()) {
            stats[0] += node.size();
            return;
        }
        for (int i = 0; i < node.size(); i++) {
            long childHi = i + 1 < node.size() ? node.keys.get(i + 1) : hi;
            checkNode(node.children.get(i), level - 1, i == 0 ? lo : node.keys.get(i), childHi, stats);
        }
    }
}
