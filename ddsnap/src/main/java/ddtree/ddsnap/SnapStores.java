package ddtree.ddsnap;

import ddtree.snapstore.SnapStore;
import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The snapshot stores a daemon has open, by the name of their volume device. A volume's origin
 * target opens its store; a reloaded table of the same volume shares the open store rather than
 * open it twice; snapshot targets find it here by the volume's name. A store that failed is
 * reopened here, in place, once its cause is fixed.
 */
public final class SnapStores {
    private static final class Entry {
        final SharedStore shared;
        final String key;
        final Opener opener;
        int refs = 1;

        Entry(SharedStore shared, String key, Opener opener) {
            this.shared = shared;
            this.key = key;
            this.opener = opener;
        }
    }

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
    public synchronized SharedStore acquire(String volume, String key, Opener opener) throws IOException {
        Entry e = byVolume.get(volume);
        if (e != null) {
            if (!e.key.equals(key)) {
                throw new IOException("volume " + volume + " already has its store open on " + e.key
                        + "; a new table must name the same devices and chunk size");
            }
            e.refs++;
            return e.shared;
        }
        Entry fresh = new Entry(new SharedStore(opener.open()), key, opener);
        byVolume.put(volume, fresh);
        return fresh.shared;
    }

    /** Gives back a store {@link #acquire} lent; the last release closes it. */
    public synchronized void release(String volume, SharedStore store) throws IOException {
        Entry e = byVolume.get(volume);
        if (e == null || e.shared != store) {
            return;
        }
        if (--e.refs == 0) {
            byVolume.remove(volume);
            e.shared.get().close();
        }
    }

    /** The volume's store as its targets hold it. */
    public synchronized Optional<SharedStore> shared(String volume) {
        Entry e = byVolume.get(volume);
        return e == null ? Optional.empty() : Optional.of(e.shared);
    }

    /** The volume's store now. */
    public synchronized Optional<SnapStore> find(String volume) {
        return shared(volume).map(SharedStore::get);
    }

    /**
     * Closes a failed store and opens it again from its last commit, on the same devices, so the
     * volume and its snapshots serve again without the daemon restarting. Refused for a store
     * that has not failed. If it does not open (its device still fails), the volume keeps
     * answering EIO and the reopen can be tried again.
     */
    public synchronized void reopen(String volume) throws IOException {
        Entry e = byVolume.get(volume);
        if (e == null) {
            throw new IOException("device " + volume + " is not a ddsnap volume");
        }
        SnapStore old = e.shared.get();
        if (old.isOpen() && old.failure() == null) {
            throw new IOException("the store of volume " + volume + " has not failed; there is nothing to reopen");
        }
        old.close(); // a failed store writes nothing more; this ends its threads
        SnapStore fresh;
        try {
            fresh = e.opener.open();
        } catch (IOException | RuntimeException ex) {
            throw new IOException("cannot reopen the store of volume " + volume + ": " + ex.getMessage(), ex);
        }
        e.shared.replace(fresh);
    }
}
