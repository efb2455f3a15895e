package ddtree.ddsnap;

import com.fasterxml.jackson.databind.ObjectMapper;
import ddtree.block.Bio;
import ddtree.block.BlockDevice;
import ddtree.block.Capabilities;
import ddtree.block.Extents;
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
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code ddsnap-origin <origin> <store> <metadata|-> <chunk-sectors>}: a volume whose snapshots
 * share one store. Metadata lives on its own device, or at the start of the store with {@code -}.
 * A store whose superblocks are blank is formatted when the table loads. Snapshots are managed by
 * messages (see {@link VolumeMessages}).
 */
public final class OriginTarget implements Target, ChangedMapsView {
    static final String NAME = "ddsnap-origin";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final SnapStores stores;
    private final String volume;
    private final LowerDevices lowers;
    private final List<String> args;
    private final BlockDevice origin;
    private final SharedStore store;
    private final ChangedMaps maps;

    private OriginTarget(SnapStores stores, String volume, LowerDevices lowers, List<String> args, BlockDevice origin,
            SharedStore store) {
        this.stores = stores;
        this.volume = volume;
        this.lowers = lowers;
        this.args = args;
        this.origin = origin;
        this.store = store;
        this.maps = new ChangedMaps(store, 0);
    }

    static TargetType type(SnapStores stores) {
        return new SimpleTargetType(NAME, "1.0.0", (ctx, name, line) -> create(stores, ctx, name, line));
    }

    private static Target create(SnapStores stores, TargetContext ctx, String volume, TableLine line)
            throws TableException {
        TargetArgs.count(line.args(), 4, "<origin> <store> <metadata|-> <chunk-sectors>");
        if (line.start() != 0) {
            throw new TableException("a volume is one whole target: it must start at sector 0, not " + line.start());
        }
        long chunkSectors = TargetArgs.number("chunk size", line.args().get(3), 8, 2048, "sectors");
        if (Long.bitCount(chunkSectors) != 1) {
            throw new TableException("chunk size " + chunkSectors + " sectors is not a power of two");
        }
        int chunk = (int) (chunkSectors * TableLine.SECTOR);
        LowerDevices lowers = new LowerDevices(ctx);
        try {
            String originName = line.args().get(0);
            BlockDevice origin = lowers.get(originName);
            TargetArgs.fits(originName, origin, 0, line.length());
            BlockDevice storeDev = lowers.get(line.args().get(1));
            String metaName = line.args().get(2);
            BlockDevice metaDev = metaName.equals("-") ? null : lowers.get(metaName);
            String key = String.join(" ", line.args());
            long bytes = line.lengthBytes();
            SharedStore store;
            try {
                store = stores.acquire(volume, key, () -> SnapStore.open(volume,
                        new SnapStore.Devices(origin, bytes, storeDev, metaDev), chunk, ctx.buffers(),
                        text -> ctx.event(volume, text)));
            } catch (IOException | IllegalArgumentException e) {
                throw new TableException(e.getMessage());
            }
            if (store.get().originBytes() != bytes) {
                stores.release(volume, store);
                throw new TableException("volume " + volume + " is " + store.get().originBytes()
                        + " bytes while its store is open; a new table cannot change its length");
            }
            return new OriginTarget(stores, volume, lowers, List.copyOf(line.args()), origin, store);
        } catch (TableException | IOException | RuntimeException e) {
            lowers.release();
            throw e instanceof TableException t ? t : new TableException(e.getMessage());
        }
    }

    SnapStore store() {
        return store.get();
    }

    @Override
    public void map(Bio bio) {
        store.get().mapOrigin(bio);
    }

    @Override
    public long maxIoBytes() {
        return store.get().chunkSize();
    }

    @Override
    public String status(StatusType type) {
        if (type == StatusType.TABLE) {
            return String.join(" ", args);
        }
        try {
            SnapStore.StoreStatus s = store.get().status();
            return s.storeChunksUsed() + "/" + s.storeChunks() + " chunks " + s.metaBlocksUsed() + "/"
                    + s.metaBlocks() + " metadata " + s.liveSnapshots() + " snapshots"
                    + (s.dropped().isEmpty() ? "" : " " + s.dropped().size() + " dropped")
                    + (s.failure() != null ? " failed" : "");
        } catch (IOException e) {
            return "failed: " + e.getMessage();
        }
    }

    @Override
    public String message(List<String> words) throws TableException {
        if (!words.isEmpty() && words.getFirst().equals(VolumeMessages.REOPEN)) {
            try {
                VolumeMessages.arity(words, 1, VolumeMessages.REOPEN);
                stores.reopen(volume);
                return "";
            } catch (IOException e) {
                throw new TableException(e.getMessage());
            }
        }
        try {
            Object reply = VolumeMessages.run(store.get(), words);
            return reply == null ? "" : JSON.writeValueAsString(reply);
        } catch (IOException | IllegalArgumentException e) {
            // IllegalArgumentException: a bad snapshot name, refused before the store is asked.
            String hint = store.get().failure() == null ? ""
                    : " (once its cause is fixed, 'ddsnap reopen " + volume + "' opens it again)";
            throw new TableException(e.getMessage() + hint);
        }
    }

    @Override
    public List<String> dependencies() {
        return new ArrayList<>(lowers.names());
    }

    @Override
    public Capabilities capabilities() {
        Capabilities c = origin.capabilities();
        return new Capabilities(c.flush(), c.fua(), c.discard(), c.writeZeroes(), false, c.extents());
    }

    @Override
    public BlockDevice flushDevice() {
        return origin;
    }

    @Override
    public void extents(long offset, long length, Extents out) throws IOException {
        origin.extents(offset, length, out);
    }

    @Override
    public ChangedMaps changedMaps() {
        return maps;
    }

    @Override
    public void close() {
        try {
            stores.release(volume, store);
        } catch (IOException e) {
            org.slf4j.LoggerFactory.getLogger(OriginTarget.class).error("{}: closing the snapshot store: {}", volume,
                    e.getMessage());
        }
        lowers.release();
    }
}
