package ddtree.ddsnap;

import ddtree.snapstore.SnapStore;
import ddtree.snapstore.SnapshotTable.Snapshot;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The messages a {@code ddsnap-origin} target takes ({@code ddsetup message VOLUME 0 ...}); the
 * {@code ddsnap} command line is built on them. Replies are JSON objects, so tools can read them.
 *
 * <pre>
 * snapshot NAME [writable] [priority=N] [guid=HEX]   take a snapshot
 * delete NAME                                        delete one (space comes back in the background)
 * priority NAME N                                    who the full-store policy drops first (lowest)
 * revert NAME                                        the origin becomes the snapshot's contents
 * list                                               every snapshot with its unique and shared chunks
 * status                                             store and metadata use, sharing histogram
 * reopen                                             open a failed store again (the origin target does it)
 * </pre>
 */
final class VolumeMessages {
    /** Handled by the origin target, which can replace the store; every other message needs a store. */
    static final String REOPEN = "reopen";
    static final String USAGE = "snapshot NAME [writable] [priority=N] [guid=HEX], delete NAME, priority NAME N, "
            + "revert NAME, list, status, reopen";

    private VolumeMessages() {}

    static Object run(SnapStore store, List<String> w) throws IOException {
        if (w.isEmpty()) {
            throw new IOException("no message (messages: " + USAGE + ")");
        }
        return switch (w.getFirst()) {
            case "snapshot" -> snapshot(store, w);
            case "delete" -> {
                arity(w, 2, "delete NAME");
                store.deleteSnapshot(w.get(1));
                yield null;
            }
            case "priority" -> {
                arity(w, 3, "priority NAME N");
                store.setPriority(w.get(1), integer("priority", w.get(2)));
                yield null;
            }
            case "revert" -> {
                arity(w, 2, "revert NAME");
                store.revert(w.get(1));
                yield null;
            }
            case "list" -> {
                arity(w, 1, "list");
                List<Map<String, Object>> out = new ArrayList<>();
                for (SnapStore.SnapshotUsage u : store.usage()) {
                    Map<String, Object> m = describe(u.snapshot());
                    m.put("unique", u.unique());
                    m.put("shared", u.shared());
                    out.add(m);
                }
                yield Map.of("chunkSize", store.chunkSize(), "snapshots", out);
            }
            case "status" -> {
                arity(w, 1, "status");
                SnapStore.StoreStatus s = store.status();
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("chunkSize", s.chunkSize());
                m.put("originBytes", s.originBytes());
                m.put("storeChunks", s.storeChunks());
                m.put("storeChunksUsed", s.storeChunksUsed());
                m.put("metadataBlocks", s.metaBlocks());
                m.put("metadataBlocksUsed", s.metaBlocksUsed());
                m.put("journalBlocks", s.journalBlocks());
                m.put("snapshots", s.liveSnapshots());
                m.put("deleting", s.deletingSnapshots());
                m.put("dropped", s.dropped().stream().map(VolumeMessages::describe).toList());
                m.put("exceptions", s.exceptions());
                m.put("sharing", s.sharing());
                m.put("failure", s.failure());
                yield m;
            }
            default -> throw new IOException("unknown message '" + w.getFirst() + "' (messages: " + USAGE + ")");
        };
    }

    private static Object snapshot(SnapStore store, List<String> w) throws IOException {
        if (w.size() < 2) {
            throw new IOException("usage: snapshot NAME [writable] [priority=N] [guid=HEX]");
        }
        boolean writable = false;
        int priority = 0;
        long guid = 0;
        for (String opt : w.subList(2, w.size())) {
            if (opt.equals("writable")) {
                writable = true;
            } else if (opt.startsWith("priority=")) {
                priority = integer("priority", opt.substring(9));
            } else if (opt.startsWith("guid=")) {
                try {
                    guid = Long.parseUnsignedLong(opt.substring(5), 16);
                } catch (NumberFormatException e) {
                    throw new IOException("guid '" + opt.substring(5) + "' is not a hexadecimal 64-bit number");
                }
            } else {
                throw new IOException("snapshot: unknown option '" + opt + "' (writable, priority=N, guid=HEX)");
            }
        }
        return describe(store.createSnapshot(w.get(1), writable, priority, guid));
    }

    static Map<String, Object> describe(Snapshot s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", s.name());
        m.put("id", s.id());
        m.put("state", s.state().name().toLowerCase());
        m.put("writable", s.writable());
        m.put("priority", s.priority());
        m.put("created", s.createdMillis());
        m.put("changed", s.changedMillis());
        m.put("guid", Long.toHexString(s.guid()));
        return m;
    }

    static void arity(List<String> w, int n, String usage) throws IOException {
        if (w.size() != n) {
            throw new IOException("usage: " + usage);
        }
    }

    private static int integer(String what, String v) throws IOException {
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IOException(what + " '" + v + "' is not a whole number");
        }
    }
}
