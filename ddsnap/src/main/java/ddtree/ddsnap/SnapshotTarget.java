package ddtree.ddsnap;

import ddtree.block.Bio;
import ddtree.block.BlockDevice;
import ddtree.block.Capabilities;
import ddtree.block.Errno;
import ddtree.mapper.LowerDevices;
import ddtree.mapper.SimpleTargetType;
import ddtree.mapper.StatusType;
import ddtree.mapper.TableException;
import ddtree.mapper.TableLine;
import ddtree.mapper.Target;
import ddtree.mapper.TargetArgs;
import ddtree.mapper.TargetContext;
import ddtree.mapper.TargetType;
import ddtree.snapstore.SnapStore;
import ddtree.snapstore.SnapshotTable.Snapshot;
import java.io.IOException;
import java.util.List;
import java.util.Optional;

/**
 * {@code ddsnap-snapshot <volume> <snapshot>}: one snapshot of a {@code ddsnap-origin} volume,
 * read-only unless it was taken writable. It offers the {@code ddtree:changed:OTHER} maps.
 */
public final class SnapshotTarget implements Target, ChangedMapsView {
    static final String NAME = "ddsnap-snapshot";

    private final LowerDevices lowers;
    private final String volume;
    private final String snapName;
    private final SharedStore store;
    private final long id;
    private final boolean writable;
    private final ChangedMaps maps;

    private SnapshotTarget(LowerDevices lowers, String volume, String snapName, SharedStore store, Snapshot s) {
        this.lowers = lowers;
        this.volume = volume;
        this.snapName = snapName;
        this.store = store;
        this.id = s.id();
        this.writable = s.writable();
        this.maps = new ChangedMaps(store, id);
    }

    static TargetType type(SnapStores stores) {
        return new SimpleTargetType(NAME, "1.0.0", (ctx, name, line) -> create(stores, ctx, line));
    }

    private static Target create(SnapStores stores, TargetContext ctx, TableLine line) throws TableException {
        TargetArgs.count(line.args(), 2, "<volume> <snapshot>");
        String volume = line.args().get(0);
        String snapName = line.args().get(1);
        LowerDevices lowers = new LowerDevices(ctx);
        try {
            // Taking the volume as a lower device keeps it from being removed under its snapshots.
            lowers.get(volume);
            SharedStore shared = stores.shared(volume).orElseThrow(() -> new TableException(
                    "device " + volume + " is not a ddsnap volume (no ddsnap-origin table)"));
            SnapStore store = shared.get();
            Optional<Snapshot> s = store.snapshot(snapName);
            if (s.isEmpty() || s.get().state() != ddtree.snapstore.SnapshotTable.State.LIVE) {
                throw new TableException("volume " + volume + " has no snapshot '" + snapName + "'"
                        + s.map(x -> " (it is " + x.state().name().toLowerCase() + ")").orElse(""));
            }
            if (line.start() + line.length() > store.originBytes() / TableLine.SECTOR) {
                throw new TableException("snapshot " + snapName + " is " + store.originBytes() / TableLine.SECTOR
                        + " sectors; the table maps " + line.length() + " from " + line.start());
            }
            return new SnapshotTarget(lowers, volume, snapName, shared, s.get());
        } catch (TableException | RuntimeException e) {
            lowers.release();
            throw e;
        } catch (IOException e) {
            lowers.release();
            throw new TableException(e.getMessage());
        }
    }

    @Override
    public void map(Bio bio) {
        if (!writable && bio.op().modifies()) {
            bio.complete(Errno.EPERM);
            return;
        }
        store.get().mapSnapshot(id, bio);
    }

    @Override
    public long maxIoBytes() {
        return store.get().chunkSize();
    }

    @Override
    public String status(StatusType type) {
        if (type == StatusType.TABLE) {
            return volume + " " + snapName;
        }
        try {
            return store.get().snapshot(snapName).filter(s -> s.id() == id)
                    .map(s -> s.state().name().toLowerCase() + (s.writable() ? " writable" : " read-only"))
                    .orElse("deleted");
        } catch (IOException e) {
            return "failed: " + e.getMessage();
        }
    }

    @Override
    public List<String> dependencies() {
        return List.of(volume);
    }

    @Override
    public Capabilities capabilities() {
        return new Capabilities(true, writable, false, writable, false, false);
    }

    @Override
    public ChangedMaps changedMaps() {
        return maps;
    }

    @Override
    public void close() {
        lowers.release();
    }
}
