package ddtree.ddsnap;

import ddtree.ddsnap.delta.DeltaHeader;
import ddtree.ddsnap.delta.DeltaReader;
import ddtree.ddsnap.delta.DeltaRecord;
import ddtree.ddsnap.delta.DeltaWriter;
import ddtree.snapstore.SnapStore;
import ddtree.snapstore.SnapshotTable.Snapshot;
import ddtree.snapstore.SnapshotTable.State;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.LongConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Snapshot deltas (docs/ddsnap-delta.md): writes the chunks that differ between two snapshots of
 * a volume as a stream, and applies such a stream to a volume on another server, all or nothing.
 *
 * <p>Apply writes through the volume's origin while a hidden snapshot of the volume as it was
 * keeps the old data; a stream refused part way (cut short, corrupt, or not for this volume)
 * rolls the origin back to that snapshot, which goes with the chunks copied out meanwhile, so the
 * volume and its store are left as they were. A stream that ends well
 * becomes snapshot TO, with the guid it had on the sending side.
 */
public final class DeltaService {
    private static final Logger LOG = LoggerFactory.getLogger(DeltaService.class);
    /** The hidden snapshot that holds the volume as it was while a stream is applied. */
    static final String KEEP_PREFIX = "receiving-";
    /** Chunk reads a stream keeps in flight. */
    private static final int READ_AHEAD = 16;

    private final SnapStores stores;

    DeltaService(SnapStores stores) {
        this.stores = stores;
    }

    private SnapStore store(String volume) throws IOException {
        return stores.find(volume).orElseThrow(() -> new IOException("device " + volume
                + " is not a ddsnap volume (no ddsnap-origin table)"));
    }

    private static Snapshot live(SnapStore store, String volume, String name) throws IOException {
        Snapshot s = store.snapshot(name).orElseThrow(() -> new IOException("volume " + volume
                + " has no snapshot '" + name + "'"));
        if (s.state() != State.LIVE) {
            throw new IOException("snapshot '" + name + "' of " + volume + " is " + s.state().name().toLowerCase());
        }
        return s;
    }

    /**
     * Writes the delta of snapshot {@code to} from snapshot {@code from} (a full stream when
     * empty) to {@code out}.
     *
     * @param total told the expected stream size (uncompressed data) before the data
     */
    public Map<String, Object> send(String volume, Optional<String> from, String to, boolean compress,
            OutputStream out, LongConsumer total) throws IOException {
        SnapStore store = store(volume);
        Snapshot toSnap = live(store, volume, to);
        Snapshot fromSnap = from.isPresent() ? live(store, volume, from.get()) : null;
        if (fromSnap != null && fromSnap.id() == toSnap.id()) {
            throw new IOException("FROM and TO are the same snapshot '" + to + "'");
        }
        int chunk = store.chunkSize();
        long chunks = (store.originBytes() + chunk - 1) / chunk;
        List<Long> changed = new ArrayList<>();
        if (fromSnap != null) {
            store.changedChunks(fromSnap.id(), toSnap.id(), 0, chunks, changed::add);
        }
        long count = fromSnap != null ? changed.size() : chunks;
        total.accept(count * chunk);
        DeltaHeader header = new DeltaHeader(chunk, store.originBytes(), fromSnap != null ? fromSnap.name() : "",
                fromSnap != null ? fromSnap.guid() : 0, toSnap.name(), toSnap.guid(), System.currentTimeMillis());
        // Several chunk reads in flight, written out in order.
        int window = (int) Math.min(READ_AHEAD, count);
        StoreIo[] ring = new StoreIo[window];
        try {
            for (int i = 0; i < window; i++) {
                ring[i] = new StoreIo(store, store.buffers());
            }
            DeltaWriter w = new DeltaWriter(out, header, compress);
            byte[] bytes = new byte[chunk];
            long started = 0;
            for (; started < window; started++) {
                startRead(store, ring[(int) started], toSnap.id(), fromSnap != null ? changed.get((int) started) : started);
            }
            for (long k = 0; k < count; k++) {
                StoreIo io = ring[(int) (k % window)];
                io.finish();
                long c = fromSnap != null ? changed.get((int) k) : k;
                long offset = c * chunk;
                int len = (int) Math.min(chunk, store.originBytes() - offset);
                MemorySegment seg = io.buffer().segment();
                if (isZero(seg, len)) {
                    w.zero(offset, len);
                } else {
                    MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, 0, bytes, 0, len);
                    w.data(offset, bytes, 0, len);
                }
                if (started < count) {
                    startRead(store, io, toSnap.id(), fromSnap != null ? changed.get((int) started) : started);
                    started++;
                }
            }
            w.finish();
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("volume", volume);
            r.put("from", fromSnap != null ? fromSnap.name() : null);
            r.put("to", toSnap.name());
            r.put("chunks", count);
            r.put("records", w.records());
            r.put("dataBytes", w.dataBytes());
            return r;
        } finally {
            for (StoreIo io : ring) {
                if (io != null) {
                    io.close();
                }
            }
        }
    }

    private static void startRead(SnapStore store, StoreIo io, long id, long chunk) {
        int size = store.chunkSize();
        io.startRead(id, chunk * size, (int) Math.min(size, store.originBytes() - chunk * size));
    }

    private static boolean isZero(MemorySegment seg, int len) {
        int i = 0;
        for (; i + 8 <= len; i += 8) {
            if (seg.get(ValueLayout.JAVA_LONG_UNALIGNED, i) != 0) {
                return false;
            }
        }
        for (; i < len; i++) {
            if (seg.get(ValueLayout.JAVA_BYTE, i) != 0) {
                return false;
            }
        }
        return true;
    }

    /**
     * Applies the stream from {@code in} to {@code volume} and creates snapshot TO there. The
     * volume's snapshot FROM must be the one the stream was made from (same guid), and the origin
     * unchanged since it, unless {@code force} rolls the origin back to FROM first. A full stream
     * onto a volume that has snapshots also needs {@code force}.
     */
    public Map<String, Object> receive(String volume, boolean force, InputStream in) throws IOException {
        SnapStore store = store(volume);
        DeltaReader r = new DeltaReader(in);
        DeltaHeader h = r.header();
        if (h.chunkSize() != store.chunkSize() || h.volumeSize() != store.originBytes()) {
            throw new IOException("the stream is for a volume of " + h.volumeSize() + " bytes in " + h.chunkSize()
                    + "-byte chunks; " + volume + " is " + store.originBytes() + " bytes in " + store.chunkSize()
                    + "-byte chunks");
        }
        if (store.snapshot(h.toName()).isPresent()) {
            throw new IOException("volume " + volume + " already has a snapshot '" + h.toName() + "'");
        }
        boolean revertFirst = false;
        if (h.full()) {
            boolean hasSnapshots = store.snapshots().stream().anyMatch(s -> s.state() == State.LIVE);
            if (hasSnapshots && !force) {
                throw new IOException("a full stream overwrites all of " + volume + ", which has snapshots; "
                        + "--force applies it anyway");
            }
        } else {
            Snapshot from = store.snapshot(h.fromName()).orElseThrow(() -> new IOException("the stream starts from snapshot '"
                    + h.fromName() + "', which volume " + volume + " does not have"));
            if (from.guid() != h.fromGuid()) {
                throw new IOException("snapshot '" + h.fromName() + "' of " + volume + " is not the one the stream starts from"
                        + " (guid " + Long.toHexString(from.guid()) + ", the stream's " + Long.toHexString(h.fromGuid()) + ")");
            }
            if (!originMatches(store, from.id())) {
                if (!force) {
                    throw new IOException("the origin of " + volume + " changed since snapshot '" + h.fromName()
                            + "'; --force rolls it back to that snapshot first");
                }
                revertFirst = true;
            }
        }
        String keep = KEEP_PREFIX + h.toName();
        if (store.snapshot(keep).isPresent()) {
            throw new IOException("volume " + volume + " is already receiving snapshot '" + h.toName() + "'");
        }
        store.createSnapshot(keep, false, Integer.MAX_VALUE, 0);
        try (StoreIo io = new StoreIo(store, store.buffers())) {
            if (revertFirst) {
                // After keep, so that a stream refused after all leaves the volume as it was, writes since FROM included.
                store.revert(h.fromName());
            }
            DeltaRecord rec;
            while ((rec = r.next()) != null) {
                apply(store, io, rec);
            }
            io.flushOrigin();
            Snapshot made = store.createSnapshot(h.toName(), false, 0, h.toGuid());
            store.deleteSnapshot(keep);
            LOG.info("{}: applied a delta stream: snapshot '{}' ({} records, {} data bytes)", volume, h.toName(),
                    r.records(), r.dataBytes());
            Map<String, Object> out = new LinkedHashMap<>(VolumeMessages.describe(made));
            out.put("records", r.records());
            out.put("dataBytes", r.dataBytes());
            return out;
        } catch (IOException | RuntimeException e) {
            try {
                // Reverted and gone, with the chunks copied out meanwhile: the store as it was.
                store.rollBack(keep);
            } catch (IOException undo) {
                e.addSuppressed(undo);
                LOG.error("{}: could not undo a refused delta stream; snapshot '{}' holds the volume as it was",
                        volume, keep, undo);
                throw new IOException("delta stream refused: " + e.getMessage() + "; undoing it failed too ("
                        + undo.getMessage() + "): snapshot '" + keep + "' holds the volume as it was", e);
            }
            throw new IOException("delta stream refused: " + e.getMessage() + "; volume " + volume
                    + " is as it was", e);
        }
    }

    /**
     * Whether the origin still holds snapshot {@code id}'s data: compared where the snapshot has
     * chunks of its own, since everywhere else it reads the origin itself.
     */
    private static boolean originMatches(SnapStore store, long id) throws IOException {
        int chunk = store.chunkSize();
        long chunks = (store.originBytes() + chunk - 1) / chunk;
        List<Long> differ = new ArrayList<>();
        store.changedChunks(0, id, 0, chunks, differ::add);
        if (differ.isEmpty()) {
            return true;
        }
        byte[] snap = new byte[chunk];
        byte[] orig = new byte[chunk];
        try (StoreIo io = new StoreIo(store, store.buffers())) {
            for (long c : differ) {
                long offset = c * chunk;
                int len = (int) Math.min(chunk, store.originBytes() - offset);
                io.readSnapshot(id, offset, len);
                MemorySegment.copy(io.buffer().segment(), ValueLayout.JAVA_BYTE, 0, snap, 0, len);
                io.readOrigin(offset, len);
                MemorySegment.copy(io.buffer().segment(), ValueLayout.JAVA_BYTE, 0, orig, 0, len);
                if (!java.util.Arrays.equals(snap, 0, len, orig, 0, len)) {
                    return false;
                }
            }
        }
        return true;
    }

    private static void apply(SnapStore store, StoreIo io, DeltaRecord rec) throws IOException {
        int chunk = store.chunkSize();
        long end = rec.offset() + rec.length();
        long pos = rec.offset();
        java.nio.ByteBuffer data = rec.type() == DeltaRecord.Type.DATA ? rec.data() : null;
        int dataPos = data != null ? data.position() : 0;
        while (pos < end) {
            int len = (int) Math.min(end - pos, chunk - (pos % chunk));
            if (data != null) {
                MemorySegment.copy(MemorySegment.ofBuffer(data), ValueLayout.JAVA_BYTE, pos - rec.offset(),
                        io.buffer().segment(), ValueLayout.JAVA_BYTE, 0, len);
                io.writeOrigin(pos, len);
            } else {
                io.zeroOrigin(pos, len);
            }
            pos += len;
        }
        if (data != null) {
            data.position(dataPos);
        }
    }
}
