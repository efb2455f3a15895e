package ddtree.daemon;

import ddtree.block.BlockDevice;
import ddtree.block.BufferPool;
import ddtree.block.device.FileDevice;
import ddtree.ddlink.ControlException;
import ddtree.ddlink.ControlHandler;
import ddtree.ddlink.DeviceInfo;
import ddtree.ddlink.DeviceLines;
import ddtree.ddlink.Event;
import ddtree.ddlink.ExportInfo;
import ddtree.ddlink.Protocol;
import ddtree.ddlink.TargetInfo;
import ddtree.ddlink.VersionInfo;
import ddtree.mapper.MappedDevice;
import ddtree.mapper.StatusType;
import ddtree.mapper.TableException;
import ddtree.mapper.TableLine;
import ddtree.mapper.TableParser;
import ddtree.mapper.TargetType;
import ddtree.mapper.TargetTypes;
import ddtree.nbd.Export;
import ddtree.nbd.ExportTable;
import ddtree.nbd.NbdServer;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.function.ToIntFunction;

/**
 * The daemon's devices by name: building them from tables through the mapper, who stacks on
 * whom, their exports, and the state file that brings them back after a restart. It is the
 * {@link ControlHandler} behind the control socket.
 *
 * <p>Every change is saved before the reply goes out, so a client that got an answer knows the
 * change survives a crash. The registry's own maps are guarded by this object's monitor. Calls
 * that take a device's own control lock (suspend, resume, load, clear, close) are made outside
 * that monitor: a suspend waits for in-flight I/O, which may itself wait for a suspended device
 * below, and the resume that releases that device, or a plain {@code ls}, must still get through.
 */
final class DeviceRegistry implements ControlHandler, AutoCloseable {
    /** A device and what the registry knows about it beside the mapper. */
    private static final class Entry {
        final MappedDevice device;
        final DeviceContext ctx;
        /** Whether a reloaded table waits; kept here so reading it never waits on the device's lock. */
        volatile boolean inactive;

        Entry(MappedDevice device, DeviceContext ctx) {
            this.device = device;
            this.ctx = ctx;
        }

        MappedDevice device() {
            return device;
        }

        DeviceContext ctx() {
            return ctx;
        }
    }

    private record Exported(String export, boolean readOnly) {}

    private final TargetTypes types;
    private final BufferPool buffers;
    private final ExportTable exportTable;
    private final ToIntFunction<BlockDevice> openCount;
    private final StateFile state;
    private final Consumer<Event> events;
    private final ddtree.ddsnap.DeltaService deltas;
    private final LowerFiles files = new LowerFiles();
    /** In creation order, so a stop closes the devices stacked on others first. */
    private final Map<String, Entry> devices = new LinkedHashMap<>();
    private final Map<String, Exported> exports = new TreeMap<>();
    private boolean closed;
    /** Serialises building tables (create, reload) and dropping them, apart from the monitor. */
    private final Object loads = new Object();

    DeviceRegistry(TargetTypes types, ddtree.ddsnap.DeltaService deltas, BufferPool buffers, ExportTable exportTable,
            ToIntFunction<BlockDevice> openCount, StateFile state, Consumer<Event> events) {
        this.types = types;
        this.deltas = deltas;
        this.buffers = buffers;
        this.exportTable = exportTable;
        this.openCount = openCount;
        this.state = state;
        this.events = events;
    }

    /** A registry whose open counts come from {@code server}. */
    static ToIntFunction<BlockDevice> openCounts(NbdServer server) {
        return server::openCount;
    }

    BufferPool buffers() {
        return buffers;
    }

    // ---- lower devices, called by DeviceContext under this lock ----

    /** A lower device for {@code user}: a path when it has a '/', otherwise a ddtree device name. */
    synchronized BlockDevice lend(DeviceContext user, String nameOrPath) throws TableException {
        if (nameOrPath.indexOf('/') >= 0) {
            return files.acquire(nameOrPath);
        }
        Entry lower = devices.get(nameOrPath);
        if (lower == null) {
            throw new TableException("no device named '" + nameOrPath + "'" + (devices.isEmpty() ? ""
                    : " (devices: " + String.join(", ", devices.keySet()) + ")") + "; a file needs a path with a '/'");
        }
        if (nameOrPath.equals(user.name())) {
            throw new TableException("device '" + nameOrPath + "' cannot stack on itself");
        }
        List<String> path = pathBetween(nameOrPath, user.name());
        if (path != null) {
            throw new TableException("stacking cycle: " + user.name() + " -> " + String.join(" -> ", path));
        }
        return lower.device();
    }

    synchronized void giveBack(String nameOrPath, BlockDevice device) {
        if (device instanceof FileDevice f && nameOrPath.indexOf('/') >= 0) {
            files.release(f);
        }
    }

    /** The chain of stacking from {@code from} down to {@code to}, or null if {@code from} does not stack on it. */
    private List<String> pathBetween(String from, String to) {
        Deque<List<String>> todo = new ArrayDeque<>();
        todo.add(List.of(from));
        Set<String> seen = new HashSet<>();
        while (!todo.isEmpty()) {
            List<String> p = todo.poll();
            String last = p.getLast();
            if (last.equals(to)) {
                return p;
            }
            Entry e = devices.get(last);
            if (e == null || !seen.add(last)) {
                continue;
            }
            for (String lower : e.ctx().holds().keySet()) {
                List<String> next = new ArrayList<>(p);
                next.add(lower);
                todo.add(next);
            }
        }
        return null;
    }

    /** The devices whose tables (live or inactive) stack on {@code name}. */
    private List<String> holdersOf(String name) {
        List<String> out = new ArrayList<>();
        for (Entry e : devices.values()) {
            if (e.ctx().holds().containsKey(name)) {
                out.add(e.ctx().name());
            }
        }
        return out;
    }

    void targetEvent(String device, String text) {
        events.accept(new Event("target", device, text));
    }

    // ---- verbs ----

    @Override
    public VersionInfo version() {
        return new VersionInfo(Main.Version.version(), Protocol.VERSION);
    }

    @Override
    public List<TargetInfo> targets() {
        List<TargetInfo> out = new ArrayList<>();
        for (TargetType t : types.all()) {
            out.add(new TargetInfo(t.name(), t.version()));
        }
        return out;
    }

    @Override
    public DeviceInfo create(String name, String table) throws ControlException {
        synchronized (loads) {
            synchronized (this) {
                return createLocked(name, table);
            }
        }
    }

    private DeviceInfo createLocked(String name, String table) throws ControlException {
        checkOpen();
        checkName("create", name);
        if (devices.containsKey(name)) {
            throw new ControlException("create: device '" + name + "' already exists");
        }
        List<TableLine> lines = parse(table);
        add(name, lines);
        save();
        events.accept(new Event("created", name, ""));
        return infoOf(name);
    }

    /** Builds and registers a device; the mapper gives back every lower device on failure. */
    private void add(String name, List<TableLine> lines) throws ControlException {
        DeviceContext ctx = new DeviceContext(this, name);
        MappedDevice d;
        try {
            d = MappedDevice.create(name, lines, ctx, types);
        } catch (TableException e) {
            throw new ControlException(e.getMessage());
        }
        devices.put(name, new Entry(d, ctx));
    }

    @Override
    public void remove(String name, boolean force) throws ControlException {
        Entry e;
        Exported x;
        synchronized (this) {
            checkOpen();
            e = entry(name);
            checkRemovable(name, e, force);
            x = exports.remove(name);
            if (x != null) {
                exportTable.remove(x.export());
            }
            devices.remove(name);
        }
        e.device().close(); // gives its lower devices back
        synchronized (this) {
            save();
        }
        if (x != null) {
            events.accept(new Event("unexported", name, x.export()));
        }
        events.accept(new Event("removed", name, ""));
    }

    private void checkRemovable(String name, Entry e, boolean force) throws ControlException {
        if (!force) {
            List<String> holders = holdersOf(name);
            if (!holders.isEmpty()) {
                throw new ControlException("remove: device '" + name + "' is in use: " + String.join(", ", holders)
                        + (holders.size() == 1 ? " stacks" : " stack") + " on it (remove " + (holders.size() == 1 ? "it" : "them")
                        + " first, or use --force)");
            }
            int open = openCount.applyAsInt(e.device());
            if (open > 0) {
                throw new ControlException("remove: device '" + name + "' is open: " + open + " NBD connection"
                        + (open == 1 ? "" : "s") + " (disconnect first, or use --force)");
            }
        }
    }

    @Override
    public synchronized List<DeviceInfo> list() {
        List<DeviceInfo> out = new ArrayList<>();
        for (String name : new TreeMap<>(devices).keySet()) {
            out.add(infoOf(name));
        }
        return out;
    }

    @Override
    public synchronized List<DeviceLines> table(Optional<String> name) throws ControlException {
        return lines(name, StatusType.TABLE);
    }

    @Override
    public synchronized List<DeviceLines> status(Optional<String> name) throws ControlException {
        return lines(name, StatusType.INFO);
    }

    private List<DeviceLines> lines(Optional<String> name, StatusType type) throws ControlException {
        List<DeviceLines> out = new ArrayList<>();
        for (String n : names(name)) {
            out.add(new DeviceLines(n, devices.get(n).device().status(type)));
        }
        return out;
    }

    @Override
    public synchronized List<DeviceInfo> info(Optional<String> name) throws ControlException {
        List<DeviceInfo> out = new ArrayList<>();
        for (String n : names(name)) {
            out.add(infoOf(n));
        }
        return out;
    }

    private List<String> names(Optional<String> name) throws ControlException {
        if (name.isPresent()) {
            entry(name.get());
            return List.of(name.get());
        }
        return List.copyOf(new TreeMap<>(devices).keySet());
    }

    @Override
    public DeviceInfo suspend(String name) throws ControlException {
        MappedDevice d;
        synchronized (this) {
            checkOpen();
            d = entry(name).device();
        }
        // Draining may take as long as the slowest request in flight; other verbs go on meanwhile.
        try {
            d.suspend();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ControlException("suspend: interrupted while draining device '" + name + "'");
        }
        events.accept(new Event("suspended", name, ""));
        synchronized (this) {
            return infoOf(d);
        }
    }

    @Override
    public DeviceInfo resume(String name) throws ControlException {
        MappedDevice d;
        synchronized (this) {
            checkOpen();
            d = entry(name).device();
        }
        boolean swap = d.inactiveTable().isPresent();
        if (swap && !d.suspended()) {
            suspend(name); // a swap drains first, and says so
        }
        d.resume();
        synchronized (this) {
            Entry e = devices.get(d.name());
            if (e != null && e.device() == d) {
                e.inactive = false;
            }
            if (swap) {
                save();
            }
            events.accept(new Event("resumed", d.name(), swap ? "new table" : ""));
            return infoOf(d);
        }
    }

    @Override
    public DeviceInfo reload(String name, String table) throws ControlException {
        Entry e;
        synchronized (this) {
            checkOpen();
            e = entry(name);
        }
        List<TableLine> lines = parse(table);
        // Loads one table at a time, so two reloads cannot each pass the cycle check for the other.
        synchronized (loads) {
            try {
                e.device().load(lines);
            } catch (TableException ex) {
                throw new ControlException(ex.getMessage());
            }
            e.inactive = true;
        }
        synchronized (this) {
            events.accept(new Event("reloaded", e.device().name(), ""));
            return infoOf(e.device());
        }
    }

    @Override
    public DeviceInfo clear(String name) throws ControlException {
        Entry e;
        synchronized (this) {
            checkOpen();
            e = entry(name);
        }
        synchronized (loads) {
            e.device().clearInactive();
            e.inactive = false;
        }
        synchronized (this) {
            events.accept(new Event("cleared", e.device().name(), ""));
            return infoOf(e.device());
        }
    }

    @Override
    public synchronized DeviceInfo rename(String name, String newName) throws ControlException {
        checkOpen();
        Entry e = entry(name);
        checkName("rename", newName);
        if (devices.containsKey(newName)) {
            throw new ControlException("rename: device '" + newName + "' already exists");
        }
        List<String> holders = holdersOf(name);
        if (!holders.isEmpty()) {
            // Their tables name this device; renaming it would leave them naming nothing on restart.
            throw new ControlException("rename: device '" + name + "' has " + String.join(", ", holders)
                    + " stacked on it by name (reload " + (holders.size() == 1 ? "it" : "them") + " without it first)");
        }
        Map<String, Entry> reordered = new LinkedHashMap<>();
        for (Map.Entry<String, Entry> m : devices.entrySet()) {
            reordered.put(m.getKey().equals(name) ? newName : m.getKey(), m.getValue());
        }
        devices.clear();
        devices.putAll(reordered);
        e.device().rename(newName);
        e.ctx().rename(newName);
        Exported x = exports.remove(name);
        if (x != null) {
            exports.put(newName, x); // the export name stays: clients' URIs keep working
        }
        save();
        events.accept(new Event("renamed", newName, name));
        return infoOf(newName);
    }

    @Override
    public String message(String name, long sector, String text) throws ControlException {
        MappedDevice d;
        synchronized (this) {
            checkOpen();
            d = entry(name).device();
        }
        List<String> args = text.isBlank() ? List.of() : Arrays.asList(text.strip().split("\\s+"));
        try {
            return d.message(sector, args);
        } catch (TableException e) {
            throw new ControlException("message: " + e.getMessage());
        }
    }

    @Override
    public Object deltaSend(String volume, Optional<String> from, String to, boolean compress,
            ddtree.ddlink.DataFrames.Output out) throws ControlException, java.io.IOException {
        synchronized (this) {
            checkOpen();
            entry(volume);
        }
        try {
            return deltas.send(volume, from, to, compress, out, n -> {
                try {
                    out.total(n);
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
        } catch (java.io.UncheckedIOException e) {
            throw e.getCause();
        } catch (java.io.IOException e) {
            if (out.sent() > 0) {
                throw e; // the stream is cut; the client reports it as such
            }
            throw new ControlException("delta-send: " + e.getMessage());
        }
    }

    @Override
    public Object deltaReceive(String volume, boolean force, java.io.InputStream in) throws ControlException {
        synchronized (this) {
            checkOpen();
            entry(volume);
        }
        try {
            return deltas.receive(volume, force, in);
        } catch (java.io.IOException e) {
            throw new ControlException("delta-receive: " + e.getMessage());
        }
    }

    @Override
    public synchronized ExportInfo export(String name, Optional<String> exportName, boolean readOnly) throws ControlException {
        checkOpen();
        String export = exportName.filter(s -> !s.isEmpty()).orElse(name);
        ExportInfo done = exportDevice(name, export, readOnly);
        save();
        events.accept(new Event("exported", name, export));
        return done;
    }

    private ExportInfo exportDevice(String name, String export, boolean readOnly) throws ControlException {
        Entry e = entry(name);
        Exported already = exports.get(name);
        if (already != null) {
            throw new ControlException("export: device '" + name + "' is already exported as '" + already.export()
                    + "' (unexport it first)");
        }
        for (Map.Entry<String, Exported> x : exports.entrySet()) {
            if (x.getValue().export().equals(export)) {
                throw new ControlException("export: export name '" + export + "' is taken by device '" + x.getKey() + "'");
            }
        }
        try {
            exportTable.put(new Export(export, describe(e.device().table()), e.device(), readOnly));
        } catch (IllegalArgumentException ex) {
            throw new ControlException("export: export name '" + export + "': " + ex.getMessage());
        }
        exports.put(name, new Exported(export, readOnly));
        return new ExportInfo(name, export, readOnly);
    }

    @Override
    public synchronized void unexport(String name) throws ControlException {
        checkOpen();
        entry(name);
        Exported x = exports.remove(name);
        if (x == null) {
            throw new ControlException("unexport: device '" + name + "' is not exported");
        }
        exportTable.remove(x.export());
        save();
        events.accept(new Event("unexported", name, x.export()));
    }

    // ---- start-up: restore and command-line devices ----

    /**
     * Recreates saved devices, lower ones first, and their exports.
     *
     * @return whether a state file was there (false on a first start)
     */
    synchronized boolean restore() throws IOException {
        Optional<StateFile.State> saved = state.load();
        if (saved.isEmpty()) {
            return false;
        }
        List<StateFile.Device> pending = new ArrayList<>(saved.get().devices());
        Set<String> all = new HashSet<>();
        pending.forEach(d -> all.add(d.name()));
        while (!pending.isEmpty()) {
            StateFile.Device next = null;
            for (StateFile.Device d : pending) {
                if (d.stacksOn().stream().noneMatch(n -> all.contains(n) && !devices.containsKey(n))) {
                    next = d;
                    break;
                }
            }
            if (next == null) {
                throw new IOException("cannot restore from " + state.path() + ": devices "
                        + String.join(", ", pending.stream().map(StateFile.Device::name).toList()) + " stack on each other");
            }
            pending.remove(next);
            try {
                checkName("restore", next.name());
                add(next.name(), parse(String.join("\n", next.table())));
            } catch (ControlException e) {
                throw new IOException("cannot restore device '" + next.name() + "' from " + state.path() + ": " + e.getMessage(), e);
            }
        }
        for (StateFile.ExportEntry x : saved.get().exports()) {
            try {
                exportDevice(x.device(), x.export(), x.readOnly());
            } catch (ControlException e) {
                throw new IOException("cannot restore the export of '" + x.device() + "' from " + state.path() + ": " + e.getMessage(), e);
            }
        }
        return true;
    }

    /**
     * Makes sure a device given on the command line exists with this table and is exported as
     * asked. One restored with the same table is kept (with its data); a different table is an
     * error naming both.
     */
    synchronized void ensure(String name, String table, String given, boolean readOnly) throws IOException {
        try {
            List<TableLine> lines = parse(table);
            Entry e = devices.get(name);
            if (e == null) {
                add(name, lines);
            } else if (!e.device().table().equals(lines)) {
                throw new IOException(given + " conflicts with device '" + name + "' saved in " + state.path()
                        + ": the command line gives table '" + format(lines) + "' but the saved one is '"
                        + format(e.device().table()) + "' (remove it with ddsetup remove " + name + ", or use another name)");
            }
            Exported x = exports.get(name);
            if (x != null && (x.readOnly() != readOnly || !x.export().equals(name))) {
                exports.remove(name);
                exportTable.remove(x.export());
                x = null;
            }
            if (x == null) {
                exportDevice(name, name, readOnly);
            }
            save();
        } catch (ControlException e) {
            throw new IOException(given + ": " + e.getMessage(), e);
        }
    }

    /**
     * A device for people, from its table: {@code ram}, {@code file PATH} for a linear map of a
     * whole file (what {@code --device} makes), otherwise its target types.
     */
    static String describe(List<TableLine> table) {
        if (table.size() == 1) {
            TableLine l = table.getFirst();
            if (l.type().equals("ram") && l.args().isEmpty()) {
                return "ram";
            }
            if (l.type().equals("linear") && l.args().size() == 2 && l.args().get(0).indexOf('/') >= 0
                    && l.args().get(1).equals("0")) {
                return "file " + l.args().get(0);
            }
        }
        return String.join(", ", table.stream().map(TableLine::type).distinct().toList());
    }

    private static String format(List<TableLine> lines) {
        return String.join("\\n", lines.stream().map(TableLine::format).toList());
    }

    /** The devices in creation order, for the banner. */
    synchronized List<String> names() {
        return List.copyOf(devices.keySet());
    }

    synchronized MappedDevice device(String name) {
        Entry e = devices.get(name);
        return e == null ? null : e.device();
    }

    synchronized Optional<ExportInfo> exportOf(String name) {
        Exported x = exports.get(name);
        return x == null ? Optional.empty() : Optional.of(new ExportInfo(name, x.export(), x.readOnly()));
    }

    /** Lower files open now (tests check that references are given back). */
    synchronized int openFiles() {
        return files.size();
    }

    // ---- helpers ----

    private Entry entry(String name) throws ControlException {
        Entry e = devices.get(name);
        if (e == null) {
            throw new ControlException("no device named '" + name + "'");
        }
        return e;
    }

    private static void checkName(String verb, String name) throws ControlException {
        try {
            DeviceSpec.checkName(verb + ": ", name);
        } catch (IllegalArgumentException e) {
            throw new ControlException(e.getMessage());
        }
    }

    private static List<TableLine> parse(String table) throws ControlException {
        try {
            return TableParser.parse(table);
        } catch (TableException e) {
            throw new ControlException(e.getMessage());
        }
    }

    private DeviceInfo infoOf(String name) {
        return infoOf(devices.get(name).device());
    }

    private DeviceInfo infoOf(MappedDevice d) {
        String name = d.name();
        Exported x = exports.get(name);
        Entry e = devices.get(name);
        int open = openCount.applyAsInt(d) + holdersOf(name).size();
        return new DeviceInfo(name, d.size(), d.suspended() ? DeviceInfo.SUSPENDED : DeviceInfo.ACTIVE,
                e != null && e.device() == d && e.inactive, open, d.table().size(), d.dependencies(),
                x == null ? null : x.export(), x != null && x.readOnly());
    }

    private void checkOpen() throws ControlException {
        if (closed) {
            throw new ControlException("the daemon is stopping");
        }
    }

    private void save() throws ControlException {
        List<StateFile.Device> ds = new ArrayList<>();
        for (Map.Entry<String, Entry> m : devices.entrySet()) {
            MappedDevice d = m.getValue().device();
            List<String> stacksOn = d.dependencies().stream().filter(devices::containsKey).toList();
            ds.add(new StateFile.Device(m.getKey(), d.table().stream().map(TableLine::format).toList(), stacksOn));
        }
        List<StateFile.ExportEntry> xs = new ArrayList<>();
        for (Map.Entry<String, Exported> x : exports.entrySet()) {
            xs.add(new StateFile.ExportEntry(x.getKey(), x.getValue().export(), x.getValue().readOnly()));
        }
        try {
            state.save(new StateFile.State(StateFile.FORMAT, ds, xs));
        } catch (IOException e) {
            throw new ControlException("the change is live but saving " + state.path() + " failed, so it will not survive a restart: "
                    + e.getMessage());
        }
    }

    /**
     * Closes every device, the ones stacked on others first, then the lower files. The NBD
     * server has stopped before, so no I/O is in flight.
     */
    @Override
    public synchronized void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        IOException failure = null;
        List<Entry> order = new ArrayList<>(devices.values());
        // Uppers before lowers: repeatedly close a device nobody still open stacks on.
        Set<String> open = new HashSet<>(devices.keySet());
        while (!order.isEmpty()) {
            Entry pick = null;
            for (Entry e : order) {
                boolean held = false;
                for (Entry o : order) {
                    if (o != e && o.ctx().holds().containsKey(e.ctx().name())) {
                        held = true;
                        break;
                    }
                }
                if (!held) {
                    pick = e;
                    break;
                }
            }
            if (pick == null) {
                pick = order.getLast();
            }
            order.remove(pick);
            open.remove(pick.ctx().name());
            try {
                pick.device().close();
            } catch (RuntimeException ex) {
                IOException io = new IOException("closing device " + pick.ctx().name() + ": " + ex.getMessage(), ex);
                if (failure == null) {
                    failure = io;
                } else {
                    failure.addSuppressed(io);
                }
            }
        }
        files.close();
        if (failure != null) {
            throw failure;
        }
    }
}
