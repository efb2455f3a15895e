package ddtree.ddsnap;

import ddtree.block.Extents;
import ddtree.snapstore.SnapshotTable.Snapshot;
import ddtree.snapstore.SnapshotTable.State;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The {@code ddtree:changed:OTHER} block-status maps of one view of a volume (its origin or a
 * snapshot): flag 1 on every chunk whose data may differ from snapshot OTHER, or from the origin
 * with {@code ddtree:changed:@origin}. {@code nbdinfo --map=ddtree:changed:a nbd://host/v@b} shows
 * the delta between two snapshots to any NBD client.
 */
final class ChangedMaps {
    static final String PREFIX = "ddtree:changed:";
    static final String ORIGIN_LEAF = "@origin";
    /** Set on a chunk that differs. */
    static final int CHANGED = 1;

    private final SharedStore store;
    /** The view's own snapshot id; 0 for the origin. */
    private final long self;

    ChangedMaps(SharedStore store, long self) {
        this.store = store;
        this.self = self;
    }

    List<String> list(String prefix) {
        List<String> names = new ArrayList<>();
        if (!PREFIX.startsWith(prefix) && !prefix.startsWith(PREFIX)) {
            return names;
        }
        if (self != 0) {
            names.add(PREFIX + ORIGIN_LEAF);
        }
        try {
            for (Snapshot s : store.get().snapshots()) {
                if (s.state() == State.LIVE && s.id() != self) {
                    names.add(PREFIX + s.name());
                }
            }
        } catch (IOException e) {
            return names;
        }
        names.removeIf(n -> !n.startsWith(prefix));
        return names;
    }

    boolean has(String name) {
        return other(name).isPresent();
    }

    /** The id the map compares with, if the name is one of this view's maps. */
    private Optional<Long> other(String name) {
        if (!name.startsWith(PREFIX)) {
            return Optional.empty();
        }
        String leaf = name.substring(PREFIX.length());
        if (leaf.equals(ORIGIN_LEAF)) {
            return self != 0 ? Optional.of(0L) : Optional.empty();
        }
        try {
            return store.get().snapshot(leaf).filter(s -> s.state() == State.LIVE && s.id() != self).map(Snapshot::id);
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    void extents(String name, long offset, long length, Extents out) throws IOException {
        long other = other(name).orElseThrow(() -> new IOException("no block-status map " + name));
        int shift = Integer.numberOfTrailingZeros(store.get().chunkSize());
        long end = offset + length;
        long[] pos = {offset};
        boolean[] full = {false};
        store.get().changedChunks(self, other, offset >>> shift, ((end - 1) >>> shift) + 1, chunk -> {
            if (full[0]) {
                return;
            }
            long from = Math.max(offset, chunk << shift);
            long to = Math.min(end, (chunk + 1) << shift);
            if (from > pos[0] && !out.add(from - pos[0], 0)) {
                full[0] = true;
                return;
            }
            if (!out.add(to - from, CHANGED)) {
                full[0] = true;
                return;
            }
            pos[0] = to;
        });
        if (!full[0] && pos[0] < end) {
            out.add(end - pos[0], 0);
        }
    }
}
