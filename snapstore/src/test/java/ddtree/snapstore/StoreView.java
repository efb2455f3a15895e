package ddtree.snapstore;

import ddtree.block.Bio;
import ddtree.block.BlockDevice;
import ddtree.block.Capabilities;
import ddtree.block.InflightBudget;

/** The origin or one snapshot of a {@link SnapStore} as a device, for driving the store in tests. */
final class StoreView implements BlockDevice {
    private final SnapStore store;
    private final long snapshotId;
    private final InflightBudget budget = InflightBudget.defaults();

    /** @param snapshotId 0 for the origin */
    StoreView(SnapStore store, long snapshotId) {
        this.store = store;
        this.snapshotId = snapshotId;
    }

    @Override
    public String name() {
        return store.name() + (snapshotId == 0 ? "" : "@" + snapshotId);
    }

    @Override
    public long size() {
        return store.originBytes();
    }

    @Override
    public Capabilities capabilities() {
        return Capabilities.ALL;
    }

    @Override
    public InflightBudget budget() {
        return budget;
    }

    @Override
    public void submit(Bio bio) {
        if (snapshotId == 0) {
            store.mapOrigin(bio);
        } else {
            store.mapSnapshot(snapshotId, bio);
        }
    }

    @Override
    public void close() {}
}
