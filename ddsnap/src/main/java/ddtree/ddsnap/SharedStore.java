package ddtree.ddsnap;

import ddtree.snapstore.SnapStore;

/**
 * A volume's open store as the volume's targets hold it: the same for every table of the volume,
 * and replaced in place when a failed store is reopened, so the targets go on without a reload.
 */
public final class SharedStore {
    private volatile SnapStore store;

    SharedStore(SnapStore store) {
        this.store = store;
    }

    /** The store now; read it for each request rather than keep it. */
    public SnapStore get() {
        return store;
    }

    void replace(SnapStore fresh) {
        this.store = fresh;
    }
}
