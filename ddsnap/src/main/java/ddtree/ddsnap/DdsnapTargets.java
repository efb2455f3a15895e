package ddtree.ddsnap;

import ddtree.mapper.TargetTypes;

/** Adds the ddsnap target types to a daemon's, sharing one registry of open stores. */
public final class DdsnapTargets {
    private DdsnapTargets() {}

    public static TargetTypes addTo(TargetTypes types) {
        SnapStores stores = new SnapStores();
        return types.with(OriginTarget.type(stores)).with(SnapshotTarget.type(stores));
    }
}
