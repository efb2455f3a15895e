package ddtree.snapstore;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The store's snapshots: id, name, state, priority, creation time, a guid that identifies the
 * snapshot's contents across servers, and the deletion sweep's resume point. Kept in journaled
 * metadata blocks (a header block with the next id, then fixed 128-byte record slots), so a change
 * commits together with the tree changes it goes with.
 *
 * <p>Ids are handed out in increasing order and never reused, so snapshots taken one after another
 * form one range in a {@link SharingSet}. Slots are reused once a deleted snapshot's sweep is done.
 */
public final class SnapshotTable {
    /** The longest name, in UTF-8 bytes. */
    public static final int MAX_NAME_BYTES = 80;
    static final int RECORD_SIZE = 128;
    static final int RECORDS_PER_BLOCK = (MetaDevice.BLOCK_SIZE - BlockHeader.SIZE) / RECORD_SIZE;

    /** Where a snapshot is in its life. */
    public enum State {
        /** Readable, and kept by copy-out on origin writes. */
        LIVE,
        /** Deleted by the user; the sweep is freeing the chunks only it held. */
        DELETING,
        /** Dropped by the full-store policy; the sweep is freeing its chunks. */
        DROPPING,
        /** Dropped and swept; the record stays so status can show it until it is deleted. */
        DROPPED;

        boolean sweeping() {
            return this == DELETING || this == DROPPING;
        }
    }

    /**
     * One record.
     *
     * @param sweepFrom the logical chunk the deletion sweep resumes at (0 before it starts)
     * @param changedMillis when the state last changed (the drop time for a dropped snapshot)
     */
    public record Snapshot(long id, String name, State state, boolean writable, int priority, long createdMillis,
            long guid, long sweepFrom, long changedMillis) {

        public Snapshot withState(State s, long millis) {
            return new Snapshot(id, name, s, writable, priority, createdMillis, guid, 0, millis);
        }

        public Snapshot withPriority(int p) {
            return new Snapshot(id, name, state, writable, p, createdMillis, guid, sweepFrom, changedMillis);
        }

        public Snapshot withSweepFrom(long chunk) {
            return new Snapshot(id, name, state, writable, priority, createdMillis, guid, chunk, changedMillis);
        }
    }

    private final MetaBlocks blocks;
    private final long start;
    private final long capacity;
    private final TreeMap<Long, Snapshot> byId = new TreeMap<>();
    private final Map<String, Long> idByName = new HashMap<>();
    private final Map<Long, Integer> slotById = new HashMap<>();
    private final BitSet usedSlots = new BitSet();
    private long nextId;

    private SnapshotTable(MetaBlocks blocks, long start, long tableBlocks) {
        this.blocks = blocks;
        this.start = start;
        this.capacity = (tableBlocks - 1) * RECORDS_PER_BLOCK;
    }

    /** Blocks a table of {@code capacity} records takes: the header and the record blocks. */
    public static long blocksFor(long capacity) {
        return 1 + Superblock.ceilDiv(capacity, RECORDS_PER_BLOCK);
    }

    /** Writes an empty table straight to the device; for a new store only. */
    static void format(MetaDevice dev, long start, long tableBlocks) throws IOException {
        byte[] image = new byte[MetaDevice.BLOCK_SIZE];
        BlockHeader.wrap(image).putLong(BlockHeader.SIZE, 1);
        BlockHeader.seal(image, BlockHeader.MAGIC_SNAP_HEADER, start);
        dev.write(start, image);
        for (long k = 1; k < tableBlocks; k++) {
            byte[] empty = new byte[MetaDevice.BLOCK_SIZE];
            BlockHeader.seal(empty, BlockHeader.MAGIC_SNAP_RECORDS, start + k);
            dev.write(start + k, empty);
        }
    }

    /** Loads every record through {@code blocks}, verifying each block and record. */
    static SnapshotTable open(MetaBlocks blocks, long start, long tableBlocks) throws IOException {
        SnapshotTable t = new SnapshotTable(blocks, start, tableBlocks);
        ByteBuffer h = BlockHeader.wrap(blocks.read(start, BlockHeader.MAGIC_SNAP_HEADER, "snapshot table header"));
        t.nextId = h.getLong(BlockHeader.SIZE);
        if (t.nextId < 1 || t.nextId > SharingSet.MAX_ID + 1) {
            throw new MetadataCorruptException("snapshot table header at block " + start + ": next id " + t.nextId
                    + " outside 1.." + (SharingSet.MAX_ID + 1));
        }
        for (long k = 1; k < tableBlocks; k++) {
            ByteBuffer b = BlockHeader.wrap(blocks.read(start + k, BlockHeader.MAGIC_SNAP_RECORDS, "snapshot records"));
            for (int r = 0; r < RECORDS_PER_BLOCK; r++) {
                int at = BlockHeader.SIZE + r * RECORD_SIZE;
                long id = Integer.toUnsignedLong(b.getInt(at));
                if (id == 0) {
                    continue;
                }
                Snapshot s = decode(b, at, id, "snapshot record " + r + " of block " + (start + k));
                if (id >= t.nextId || t.byId.containsKey(id) || t.idByName.containsKey(s.name())) {
                    throw new MetadataCorruptException("snapshot record " + r + " of block " + (start + k) + ": id " + id
                            + " '" + s.name() + "' is a duplicate or not below the next id " + t.nextId);
                }
                int slot = Math.toIntExact((k - 1) * RECORDS_PER_BLOCK + r);
                t.byId.put(id, s);
                t.idByName.put(s.name(), id);
                t.slotById.put(id, slot);
                t.usedSlots.set(slot);
            }
        }
        return t;
    }

    private static Snapshot decode(ByteBuffer b, int at, long id, String where) throws MetadataCorruptException {
        int stateCode = Byte.toUnsignedInt(b.get(at + 4));
        int flags = Byte.toUnsignedInt(b.get(at + 5));
        int nameLen = Byte.toUnsignedInt(b.get(at + 6));
        if (stateCode < 1 || stateCode > State.values().length) {
            throw new MetadataCorruptException(where + ": state " + stateCode + " is unknown");
        }
        if (nameLen < 1 || nameLen > MAX_NAME_BYTES) {
            throw new MetadataCorruptException(where + ": name length " + nameLen + " outside 1.." + MAX_NAME_BYTES);
        }
        byte[] name = new byte[nameLen];
        b.get(at + 48, name);
        return new Snapshot(id, new String(name, StandardCharsets.UTF_8), State.values()[stateCode - 1],
                (flags & 1) != 0, b.getInt(at + 8), b.getLong(at + 16), b.getLong(at + 24), b.getLong(at + 32),
                b.getLong(at + 40));
    }

    private static void encode(ByteBuffer b, int at, Snapshot s) {
        byte[] name = s.name().getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < RECORD_SIZE; i++) {
            b.put(at + i, (byte) 0);
        }
        b.putInt(at, (int) s.id());
        b.put(at + 4, (byte) (s.state().ordinal() + 1));
        b.put(at + 5, (byte) (s.writable() ? 1 : 0));
        b.put(at + 6, (byte) name.length);
        b.putInt(at + 8, s.priority());
        b.putLong(at + 16, s.createdMillis()).putLong(at + 24, s.guid()).putLong(at + 32, s.sweepFrom());
        b.putLong(at + 40, s.changedMillis());
        b.put(at + 48, name);
    }

    /** The most records the table holds. */
    public long capacity() {
        return capacity;
    }

    public int size() {
        return byId.size();
    }

    /** Every snapshot in id order (which is creation order). */
    public List<Snapshot> all() {
        return new ArrayList<>(byId.values());
    }

    public Optional<Snapshot> byId(long id) {
        return Optional.ofNullable(byId.get(id));
    }

    public Optional<Snapshot> byName(String name) {
        Long id = idByName.get(name);
        return id == null ? Optional.empty() : Optional.of(byId.get(id));
    }

    /** The id the next {@link #create} will give. */
    public long nextId() {
        return nextId;
    }

    /**
     * Records a new live snapshot with the next id.
     *
     * @throws IllegalArgumentException when the name is taken, empty or too long
     * @throws NoSpaceException when the table or the id space is full
     */
    public Snapshot create(String name, boolean writable, int priority, long createdMillis, long guid)
            throws IOException {
        checkName(name);
        if (idByName.containsKey(name)) {
            throw new IllegalArgumentException("snapshot '" + name + "' already exists");
        }
        int slot = usedSlots.nextClearBit(0);
        if (slot >= capacity) {
            throw new NoSpaceException("the snapshot table is full: " + capacity + " snapshots (deleted ones count until their space is reclaimed)");
        }
        if (nextId > SharingSet.MAX_ID) {
            throw new NoSpaceException("snapshot ids are used up (" + SharingSet.MAX_ID + ")");
        }
        Snapshot s = new Snapshot(nextId, name, State.LIVE, writable, priority, createdMillis, guid, 0, createdMillis);
        nextId++;
        byte[] header = blocks.read(start, BlockHeader.MAGIC_SNAP_HEADER, "snapshot table header").clone();
        BlockHeader.wrap(header).putLong(BlockHeader.SIZE, nextId);
        BlockHeader.seal(header, BlockHeader.MAGIC_SNAP_HEADER, start);
        blocks.write(start, header);
        usedSlots.set(slot);
        slotById.put(s.id(), slot);
        put(slot, s);
        return s;
    }

    /** Replaces the record of {@code s.id()} with {@code s} (state, priority, sweep position). */
    public void update(Snapshot s) throws IOException {
        Integer slot = slotById.get(s.id());
        Snapshot old = byId.get(s.id());
        if (slot == null || !old.name().equals(s.name())) {
            throw new IllegalArgumentException("no snapshot " + s.id() + " '" + s.name() + "' to update");
        }
        put(slot, s);
    }

    /** Removes the record, freeing its slot. */
    public void remove(long id) throws IOException {
        Integer slot = slotById.remove(id);
        if (slot == null) {
            throw new IllegalArgumentException("no snapshot " + id + " to remove");
        }
        Snapshot s = byId.remove(id);
        idByName.remove(s.name());
        usedSlots.clear(slot);
        writeSlot(slot, null);
    }

    private void put(int slot, Snapshot s) throws IOException {
        Snapshot old = byId.put(s.id(), s);
        if (old != null) {
            idByName.remove(old.name());
        }
        idByName.put(s.name(), s.id());
        writeSlot(slot, s);
    }

    private void writeSlot(int slot, Snapshot s) throws IOException {
        long block = start + 1 + slot / RECORDS_PER_BLOCK;
        byte[] image = blocks.read(block, BlockHeader.MAGIC_SNAP_RECORDS, "snapshot records").clone();
        ByteBuffer b = BlockHeader.wrap(image);
        int at = BlockHeader.SIZE + (slot % RECORDS_PER_BLOCK) * RECORD_SIZE;
        if (s == null) {
            for (int i = 0; i < RECORD_SIZE; i++) {
                b.put(at + i, (byte) 0);
            }
        } else {
            encode(b, at, s);
        }
        BlockHeader.seal(image, BlockHeader.MAGIC_SNAP_RECORDS, block);
        blocks.write(block, image);
    }

    /** Names become part of export and device names ({@code VOLUME@SNAP}), so they stay plain. */
    private static final java.util.regex.Pattern NAME = java.util.regex.Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*");

    /** Refuses a name that could not be part of an export name. */
    public static void checkName(String name) {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("a snapshot name must not be empty");
        }
        int bytes = name.getBytes(StandardCharsets.UTF_8).length;
        if (bytes > MAX_NAME_BYTES) {
            throw new IllegalArgumentException("snapshot name '" + name + "' is " + bytes + " bytes; the most is "
                    + MAX_NAME_BYTES);
        }
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("bad snapshot name '" + name
                    + "' (use letters, digits, '.', '_' or '-', starting with a letter or digit)");
        }
    }
}
