package ddtree.daemon;

import ddtree.ddlink.SizeParser;
import ddtree.nbd.NbdServerConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.Set;

/**
 * What {@code ddtree serve} runs: a state directory, where to listen, the devices, which of
 * them are read-only, and the memory budget for request buffers.
 *
 * <p>Every device is exported under its own name; the first one is also the default export (the
 * one a client gets when it asks for no name). With no devices at all, the daemon serves the
 * embedded default: one device {@code disk0}, a sparse 1 GiB file {@code STATE/disk0.img}.
 *
 * @param stateDir where the daemon keeps its files; created if missing
 * @param listen where NBD clients connect
 * @param devices the devices, in order; never empty once {@link #of} has filled in the default
 * @param readOnly names of devices exported read-only
 * @param bufferBudget bytes all request buffers together may take; 1/8 of it is kept in reserve
 * @param maxConnections client connections beyond this are refused
 * @param control the control socket ddsetup talks to
 * @param embeddedDefault whether {@code devices} is the embedded default rather than the user's
 *     choice: a daemon whose state directory already has saved devices then serves those alone
 * @param busyPollMicros how long an NBD connection polls for the next request before it sleeps;
 *     0 turns polling off
 */
public record DaemonConfig(
        Path stateDir,
        ListenAddress listen,
        List<DeviceSpec> devices,
        Set<String> readOnly,
        long bufferBudget,
        int maxConnections,
        Path control,
        boolean embeddedDefault,
        int busyPollMicros) {

    public static final String DEFAULT_DEVICE = "disk0";
    public static final long DEFAULT_DEVICE_SIZE = 1L << 30;
    public static final long DEFAULT_BUFFER_BUDGET = 256L << 20;
    public static final int DEFAULT_MAX_CONNECTIONS = 1024;
    public static final int DEFAULT_BUSY_POLL_MICROS = NbdServerConfig.DEFAULT_BUSY_POLL_MICROS;
    public static final int MAX_BUSY_POLL_MICROS = NbdServerConfig.MAX_BUSY_POLL_MICROS;
    /** The control socket's name in the state directory, unless --control says otherwise. */
    public static final String CONTROL_SOCKET = "control.sock";
    /** The largest request the NBD server takes; the budget must hold one beside the reserve. */
    public static final long MAX_REQUEST = 32L << 20;

    public DaemonConfig {
        Objects.requireNonNull(stateDir, "stateDir");
        Objects.requireNonNull(listen, "listen");
        Objects.requireNonNull(control, "control");
        devices = List.copyOf(devices);
        readOnly = Set.copyOf(readOnly);
        if (devices.isEmpty()) {
            throw new IllegalArgumentException("no devices");
        }
        Set<String> names = new HashSet<>();
        for (DeviceSpec d : devices) {
            if (!names.add(d.name())) {
                throw new IllegalArgumentException("--device " + d.name() + ": device name '" + d.name()
                        + "' is given twice (each device needs its own name)");
            }
        }
        for (String name : readOnly) {
            if (!names.contains(name)) {
                throw new IllegalArgumentException("--read-only " + name + ": no such device (devices: "
                        + String.join(", ", devices.stream().map(DeviceSpec::name).toList()) + ")");
            }
        }
        if (bufferBudget - reserveOf(bufferBudget) < MAX_REQUEST) {
            throw new IllegalArgumentException("--buffer-budget " + SizeParser.format(bufferBudget) + " is too small: after its 1/8"
                    + " reserve it must hold one 32 MiB request (use at least 37M)");
        }
        if (maxConnections < 1) {
            throw new IllegalArgumentException("--max-connections " + maxConnections + ": must be at least 1");
        }
        if (busyPollMicros < 0 || busyPollMicros > MAX_BUSY_POLL_MICROS) {
            throw new IllegalArgumentException("--busy-poll " + busyPollMicros + ": must be between 0 and "
                    + MAX_BUSY_POLL_MICROS + " microseconds");
        }
    }

    /** The same config with NBD connections polling for {@code micros} before they sleep. */
    public DaemonConfig withBusyPollMicros(int micros) {
        return new DaemonConfig(stateDir, listen, devices, readOnly, bufferBudget, maxConnections, control,
                embeddedDefault, micros);
    }

    /**
     * Builds a config, filling in the embedded default device when {@code devices} is empty.
     *
     * @throws IllegalArgumentException on duplicate device names, a read-only name that is not a
     *     device, a file device whose file is missing and that has no size, or a budget too small
     */
    public static DaemonConfig of(Path stateDir, ListenAddress listen, List<DeviceSpec> devices,
            List<String> readOnly, long bufferBudget, int maxConnections) {
        return of(stateDir, listen, devices, readOnly, bufferBudget, maxConnections, null);
    }

    /** As above, with the control socket at {@code control} (null: {@code STATE/control.sock}). */
    public static DaemonConfig of(Path stateDir, ListenAddress listen, List<DeviceSpec> devices,
            List<String> readOnly, long bufferBudget, int maxConnections, Path control) {
        List<DeviceSpec> all = new ArrayList<>(devices);
        boolean embedded = all.isEmpty();
        if (embedded) {
            all.add(DeviceSpec.file(DEFAULT_DEVICE, stateDir.resolve(DEFAULT_DEVICE + ".img"),
                    OptionalLong.of(DEFAULT_DEVICE_SIZE)));
        }
        Set<String> ro = new LinkedHashSet<>(readOnly);
        DaemonConfig config = new DaemonConfig(stateDir, listen, all, ro, bufferBudget, maxConnections,
                control != null ? control : stateDir.resolve(CONTROL_SOCKET), embedded, DEFAULT_BUSY_POLL_MICROS);
        for (DeviceSpec d : config.devices()) {
            if (d.kind() == DeviceSpec.Kind.FILE && d.size().isEmpty() && !Files.exists(d.path())) {
                throw new IllegalArgumentException("--device " + d.name() + "=file:" + d.path() + ": " + d.path()
                        + " does not exist; give a size to create it (" + d.name() + "=file:" + d.path() + ":SIZE)");
            }
        }
        return config;
    }

    /** A config for tests and embedding: loopback on {@code port}, default budget and limits. */
    public static DaemonConfig loopback(Path stateDir, int port, List<DeviceSpec> devices, List<String> readOnly) {
        return of(stateDir, new ListenAddress("127.0.0.1", port), devices, readOnly, DEFAULT_BUFFER_BUDGET,
                DEFAULT_MAX_CONNECTIONS);
    }

    /** The part of the buffer budget kept for writeback and flush. */
    public static long reserveOf(long bufferBudget) {
        return bufferBudget / 8;
    }

    public boolean isReadOnly(String device) {
        return readOnly.contains(device);
    }

    /** The export a client gets when it asks for no name. */
    public String defaultExport() {
        return devices.getFirst().name();
    }
}
