package ddtree.snapstore;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * One btree node decoded for changing: sorted keys, and per key either a child block (internal)
 * or the logical chunk's exceptions (leaf). The layout is in docs/ddsnap-format.md.
 */
final class TreeNode {
    static final int HEADER = 24;
    static final int CAPACITY = MetaDevice.BLOCK_SIZE;
    /** Largest leaf entry: two must fit in a node, so a split always leaves both halves valid. */
    static final int MAX_ENTRY = (CAPACITY - HEADER) / 2;

    final int level;
    final List<Long> keys = new ArrayList<>();
    /** Internal nodes only. */
    final List<Long> children = new ArrayList<>();
    /** Leaves only. */
    final List<List<SharedChunk>> values = new ArrayList<>();

    TreeNode(int level) {
        this.level = level;
    }

    boolean isLeaf() {
        return level == 0;
    }

    int size() {
        return keys.size();
    }

    static int leafEntrySize(List<SharedChunk> value) {
        int n = 8 + 2;
        for (SharedChunk c : value) {
            n += c.encodedSize();
        }
        return n;
    }

    int entrySize(int i) {
        return isLeaf() ? leafEntrySize(values.get(i)) : 16;
    }

    int encodedSize() {
        int n = HEADER;
        for (int i = 0; i < size(); i++) {
            n += entrySize(i);
        }
        return n;
    }

    boolean fits() {
        return encodedSize() <= CAPACITY;
    }

    /** Index of the entry whose range holds {@code key}: the last key at or below it, else 0. */
    int route(long key) {
        int lo = 0;
        int hi = size() - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (keys.get(mid) <= key) {
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        return Math.max(hi, 0);
    }

    /** Index of {@code key} among the keys, or -(insertion point) - 1. */
    int find(long key) {
        int lo = 0;
        int hi = size() - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            long k = keys.get(mid);
            if (k < key) {
                lo = mid + 1;
            } else if (k > key) {
                hi = mid - 1;
            } else {
                return mid;
            }
        }
        return -lo - 1;
    }

    /** Moves entries from {@code from} on into {@code to}, appending. */
    void moveTail(int from, TreeNode to) {
        for (int i = from; i < size(); i++) {
            to.keys.add(keys.get(i));
            if (isLeaf()) {
                to.values.add(values.get(i));
            } else {
                to.children.add(children.get(i));
            }
        }
        keys.subList(from, size()).clear();
        if (isLeaf()) {
            values.subList(from, values.size()).clear();
        } else {
            children.subList(from, children.size()).clear();
        }
    }

    /**
     * The index at which to cut so that both halves fit and hold about the same bytes. A cut
     * always exists for what the tree splits: one full node plus one entry, or two siblings one
     * of which is under a quarter full, because no entry exceeds {@link #MAX_ENTRY}.
     */
    int splitPoint() {
        int room = CAPACITY - HEADER;
        int total = encodedSize() - HEADER;
        int best = -1;
        int bestImbalance = Integer.MAX_VALUE;
        int prefix = 0;
        for (int i = 1; i < size(); i++) {
            prefix += entrySize(i - 1);
            int imbalance = Math.abs(2 * prefix - total);
            if (prefix <= room && total - prefix <= room && imbalance < bestImbalance) {
                best = i;
                bestImbalance = imbalance;
            }
        }
        if (best < 0) {
            throw new IllegalStateException("no cut of " + size() + " entries (" + total
                    + " bytes) leaves two halves that fit in " + room + " bytes");
        }
        return best;
    }

    byte[] encode(long block) {
        byte[] image = new byte[CAPACITY];
        ByteBuffer b = BlockHeader.wrap(image);
        b.putShort(16, (short) level).putShort(18, (short) size());
        b.position(HEADER);
        for (int i = 0; i < size(); i++) {
            b.putLong(keys.get(i));
            if (isLeaf()) {
                List<SharedChunk> v = values.get(i);
                b.putShort((short) v.size());
                for (SharedChunk c : v) {
                    b.putLong(c.storeChunk());
                    c.sharers().encode(b);
                }
            } else {
                b.putLong(children.get(i));
            }
        }
        BlockHeader.seal(image, BlockHeader.MAGIC_NODE, block);
        return image;
    }

    /** Decodes a verified node image, checking its level and that its keys ascend. */
    static TreeNode decode(byte[] image, long block, int expectLevel) throws MetadataCorruptException {
        ByteBuffer b = BlockHeader.wrap(image);
        String where = "btree node at block " + block;
        int level = Short.toUnsignedInt(b.getShort(16));
        if (level != expectLevel) {
            throw new MetadataCorruptException(where + ": level " + level + " != " + expectLevel);
        }
        int n = Short.toUnsignedInt(b.getShort(18));
        TreeNode node = new TreeNode(level);
        b.position(HEADER);
        try {
            for (int i = 0; i < n; i++) {
                long key = b.getLong();
                if (i > 0 && key <= node.keys.get(i - 1)) {
                    throw new MetadataCorruptException(where + ": key " + key + " at entry " + i
                            + " not above " + node.keys.get(i - 1));
                }
                node.keys.add(key);
                if (level == 0) {
                    int m = Short.toUnsignedInt(b.getShort());
                    List<SharedChunk> v = new ArrayList<>(m);
                    for (int j = 0; j < m; j++) {
                        long chunk = b.getLong();
                        SharingSet s = SharingSet.decode(b, where + " key " + key);
                        if (s.isEmpty()) {
                            throw new MetadataCorruptException(where + ": key " + key + " store chunk " + chunk
                                    + " has an empty sharing set");
                        }
                        v.add(new SharedChunk(chunk, s));
                    }
                    node.values.add(v);
                } else {
                    node.children.add(b.getLong());
                }
            }
        } catch (java.nio.BufferUnderflowException e) {
            throw new MetadataCorruptException(where + ": " + n + " entries run past the end of the block");
        }
        return node;
    }
}
