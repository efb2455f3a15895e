package ddtree.ddsnap;

import ddtree.mapper.TargetTypes;

/**
 * ddsnap in one daemon: the {@code ddsnap-origin} and {@code ddsnap-snapshot} target types,
 * which share one registry of open stores, and the delta service that works on those stores.
 */
public final class Ddsnap {
    private final SnapStores stores = new SnapStores();
    private final DeltaService deltas = new DeltaService(stores);

    /** {@code types} plus the ddsnap targets. */
    public TargetTypes addTo(TargetTypes types) {
        return types.with(OriginTarget.type(stores)).with(SnapshotTarget.type(stores));
    }

    public DeltaService deltas() {
        return deltas;
    }
}
