package ddtree.snapstore;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The exceptions of each logical chunk, over the exception tree. A chunk that is written after
 * every snapshot gets one exception per snapshot, more than one btree entry can hold, so a
 * chunk's exceptions are spread over several tree keys: {@code chunk << GROUP_BITS | group}. The
 * groups of a chunk are adjacent in key order, so reading them all is one short ordered walk.
 */
final class ChunkExceptions {
    static final int GROUP_BITS = 20;
    private static final long MAX_GROUPS = 1L << GROUP_BITS;
    /** Highest logical chunk a key can name. */
    static final long MAX_CHUNK = Long.MAX_VALUE >>> GROUP_BITS;

    private final ExceptionTree tree;

    ChunkExceptions(ExceptionTree tree) {
        this.tree = tree;
    }

    static long key(long chunk, long group) {
        return chunk << GROUP_BITS | group;
    }

    static long chunkOf(long key) {
        return key >>> GROUP_BITS;
    }

    /** Every exception of {@code chunk}, empty if it has none. */
    List<SharedChunk> get(long chunk) throws IOException {
        List<SharedChunk> all = new ArrayList<>();
        forEachGroup(chunk, (key, exceptions) -> all.addAll(exceptions));
        return all;
    }

    /** Replaces the exceptions of {@code chunk}; an empty list removes them. */
    void put(long chunk, List<SharedChunk> exceptions) throws IOException {
        List<Long> old = new ArrayList<>();
        forEachGroup(chunk, (key, list) -> old.add(key));
        long group = 0;
        List<SharedChunk> current = new ArrayList<>();
        for (SharedChunk c : exceptions) {
            current.add(c);
            if (TreeNode.leafEntrySize(current) > TreeNode.MAX_ENTRY) {
                current.removeLast();
                if (current.isEmpty()) {
                    requireFits(chunk, c);
                }
                writeGroup(chunk, group++, current);
                current = new ArrayList<>(List.of(c));
            }
        }
        if (!current.isEmpty()) {
            writeGroup(chunk, group++, current);
        }
        for (long key : old) {
            if (key - key(chunk, 0) >= group) {
                tree.remove(key);
            }
        }
    }

    /**
     * Adds one exception to those of {@code chunk}, changing only its last entry (or starting a
     * new one), so a long history costs nothing more per copy-out.
     */
    void add(long chunk, SharedChunk c) throws IOException {
        requireFits(chunk, c);
        long[] lastKey = {-1};
        List<List<SharedChunk>> last = new ArrayList<>(1);
        forEachGroup(chunk, (key, exceptions) -> {
            lastKey[0] = key;
            last.clear();
            last.add(exceptions);
        });
        if (lastKey[0] < 0) {
            tree.put(key(chunk, 0), List.of(c));
            return;
        }
        List<SharedChunk> grown = new ArrayList<>(last.getFirst());
        grown.add(c);
        if (TreeNode.leafEntrySize(grown) <= TreeNode.MAX_ENTRY) {
            tree.put(lastKey[0], grown);
        } else {
            writeGroup(chunk, lastKey[0] - key(chunk, 0) + 1, List.of(c));
        }
    }

    /**
     * Fails when one exception alone is too big for a btree entry: its sharing set has too many
     * separate ranges of snapshots. Called before a copy-out takes a store chunk, so none leaks.
     */
    static void requireFits(long chunk, SharedChunk c) throws IOException {
        if (TreeNode.leafEntrySize(List.of(c)) > TreeNode.MAX_ENTRY) {
            throw new IOException("logical chunk " + chunk + ": an exception shared by " + c.sharers().rangeCount()
                    + " separate ranges of snapshots does not fit one btree entry");
        }
    }

    /** Visits {@code chunk}'s entries in group order. */
    private void forEachGroup(long chunk, GroupVisitor visitor) throws IOException {
        tree.forEach(key(chunk, 0), (key, exceptions) -> {
            if (chunkOf(key) != chunk) {
                return false;
            }
            visitor.visit(key, exceptions);
            return true;
        });
    }

    @FunctionalInterface
    private interface GroupVisitor {
        void visit(long key, List<SharedChunk> exceptions);
    }

    private void writeGroup(long chunk, long group, List<SharedChunk> list) throws IOException {
        if (group >= MAX_GROUPS) {
            throw new IOException("logical chunk " + chunk + " has more exceptions than " + MAX_GROUPS + " btree entries hold");
        }
        tree.put(key(chunk, group), list);
    }

    /** Visits chunks in increasing order from {@code fromChunk}, each with all its exceptions. */
    void forEachChunk(long fromChunk, ChunkVisitor visitor) throws IOException {
        long[] chunk = {-1};
        List<SharedChunk> acc = new ArrayList<>();
        boolean[] stopped = {false};
        tree.forEach(key(fromChunk, 0), (key, exceptions) -> {
            long c = chunkOf(key);
            if (c != chunk[0] && chunk[0] >= 0) {
                if (!visitor.visit(chunk[0], List.copyOf(acc))) {
                    stopped[0] = true;
                    return false;
                }
                acc.clear();
            }
            chunk[0] = c;
            acc.addAll(exceptions);
            return true;
        });
        if (!stopped[0] && chunk[0] >= 0) {
            visitor.visit(chunk[0], List.copyOf(acc));
        }
    }

    @FunctionalInterface
    interface ChunkVisitor {
        boolean visit(long chunk, List<SharedChunk> exceptions) throws IOException;
    }
}
