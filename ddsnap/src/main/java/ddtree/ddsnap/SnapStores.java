package ddtree.ddsnap;

import ddtree.snapstore.SnapStore;
import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The snapshot stores a daemon has open, by the name of their volume device. A volume's origin
 * target opens its store; a reloaded table of the same volume shares the open store rather than
 * open it twice; snapshot targets find it here by the volume's name.
 */
public final class SnapStores {
    private record Entry(SnapStore store, String key, int[] refs) {}

    private final Map<String, Entry> byVolume = new HashMap<>();

    /** Opens what a store needs, once. */
    @FunctionalInterface
    public interface Opener {
        SnapStore open() throws IOException;
    }

    /**
     * The volume's open store, opening it if no table of the volume holds it yet.
     *
     * @param key what the store is built from; a second table of the volume must name the same
     */
    public synchronized SnapStore acquire(String volume, String key, Opener opener) throws IOException {
        Entry e = byVolume.get(volume);
        if (e != null) {
            if (!e.key().equals(key)) {
                throw new IOException("volume " + volume + " already has its store open on " + e.key()
                        + "; a new table must name the same devices and chunk size");
            }
            e.refs()[0]++;
            return e.store();
        }
        SnapStore s = opener.open();
        byVolume.put(volume, new Entry(s, key, new int[] {1}));
        return s;
    }

    /** Gives back a store {@link #acquire} lent; the last release closes it. */
    public synchronized void release(String volume, SnapStore store) throws IOException {
        Entry e = byVolume.get(volume);
        if (e == null || e.store() != store) {
            return;
        }
        if (--e.refs()[0] == 0) {
            byVolume.remove(volume);
            store.close();
        }
    }

    public synchronized Optional<SnapStore> find(String volume) {
        Entry e = byVolume.get(volume);
        return e == null ? Optional.empty() : Optional.of(e.store());
    }
}
