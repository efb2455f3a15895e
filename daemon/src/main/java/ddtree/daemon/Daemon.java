package ddtree.daemon;

import ddtree.block.BlockDevice;
import ddtree.block.BufferPool;
import ddtree.ddlink.ControlServer;
import ddtree.ddlink.Event;
import ddtree.ddlink.ExportInfo;
import ddtree.mapper.TargetTypes;
import ddtree.nbd.ExportTable;
import ddtree.nbd.NbdServer;
import ddtree.nbd.NbdServerConfig;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running ddtree: the state directory (locked, so two daemons never share one), the device
 * registry with its saved devices and the command line's, the buffer pool, the NBD server, and
 * the control socket ddsetup talks to.
 *
 * <p>{@link #start} opens everything and starts listening; {@link #close} stops in the order that
 * keeps data safe: the control socket, the NBD server (it lets in-flight requests finish), then
 * the devices, stacked ones first (lower files flush when closed), then the buffer pool. Tests
 * start one in-process on port 0 and read the real port from {@link #address}.
 */
public final class Daemon implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Daemon.class);
    static final String LOCK_FILE = "ddtree.lock";

    /**
     * A device the daemon serves, for the banner.
     *
     * @param description how it was asked for: {@code ram}, {@code file PATH}, or its target types
     * @param export its export name, or null when it is not exported
     */
    public record Served(String name, String description, BlockDevice device, String export, boolean readOnly) {}

    private final DaemonConfig config;
    private FileChannel lockChannel;
    private FileLock lock;
    private BufferPool buffers;
    private NbdServer server;
    private DeviceRegistry registry;
    private volatile ControlServer control;
    private InetSocketAddress address;
    private boolean started;
    private boolean closed;

    public Daemon(DaemonConfig config) {
        this.config = config;
    }

    public DaemonConfig config() {
        return config;
    }

    /**
     * Creates the state directory, opens the devices and starts serving.
     *
     * @throws IOException if a device cannot be opened or the address cannot be bound; whatever
     *     was opened is closed again
     */
    public synchronized void start() throws IOException {
        if (started) {
            throw new IllegalStateException("daemon already started");
        }
        started = true;
        try {
            lockState();
            long budget = config.bufferBudget();
            buffers = new BufferPool(budget, DaemonConfig.reserveOf(budget));
            ExportTable exports = new ExportTable();
            InetSocketAddress bindTo;
            try {
                bindTo = config.listen().resolve();
            } catch (UnknownHostException e) {
                throw new IOException("cannot listen on " + config.listen() + ": unknown host " + config.listen().host(), e);
            }
            NbdServerConfig defaults = NbdServerConfig.loopback(0);
            NbdServerConfig nbd = new NbdServerConfig(bindTo, config.maxConnections(),
                    defaults.requestsPerConnection(), defaults.virtualThreads(), config.busyPollMicros(),
                    defaults.offloadMinBytes(), defaults.handoffMinBytes(), defaults.cpus());
            server = new NbdServer(nbd, exports, buffers);
            ddtree.ddsnap.Ddsnap ddsnap = new ddtree.ddsnap.Ddsnap();
            registry = new DeviceRegistry(ddsnap.addTo(TargetTypes.builtin()), ddsnap.deltas(), buffers, exports,
                    DeviceRegistry.openCounts(server),
                    new StateFile(config.stateDir()), this::publish);
            boolean restored = registry.restore();
            // The embedded default is for a first start; afterwards the saved devices are what the user made.
            if (!(config.embeddedDefault() && restored)) {
                for (DeviceSpec spec : config.devices()) {
                    registry.ensure(spec.name(), DeviceTables.tableOf(spec), "--device " + spec.name(),
                            config.isReadOnly(spec.name()));
                }
                exports.setDefaultName(config.defaultExport());
            } else if (registry.exportOf(config.defaultExport()).isPresent()) {
                exports.setDefaultName(config.defaultExport());
            }
            try {
                server.start();
            } catch (IOException e) {
                Throwable root = e;
                while (root.getCause() != null) {
                    root = root.getCause();
                }
                throw new IOException("cannot listen on " + config.listen() + ": " + message(root), e);
            }
            address = server.localAddress();
            ControlServer c = new ControlServer(config.control(), registry, Main.Version.version());
            c.start();
            control = c;
            LOG.info("serving {} device(s) on {}, control socket {}", registry.names().size(),
                    ListenAddress.format(address), config.control());
        } catch (IOException | RuntimeException e) {
            closeQuietly(e);
            throw e;
        }
    }

    private void publish(Event event) {
        ControlServer c = control;
        if (c != null) {
            c.publish(event);
        }
    }

    private void lockState() throws IOException {
        Path dir = config.stateDir();
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new IOException("cannot create state directory " + dir + ": " + e.getMessage(), e);
        }
        Path lockPath = dir.resolve(LOCK_FILE);
        lockChannel = FileChannel.open(lockPath, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        try {
            lock = lockChannel.tryLock();
        } catch (java.nio.channels.OverlappingFileLockException e) {
            lock = null;
        }
        if (lock == null) {
            throw new IOException("state directory " + dir + " is in use by another ddtree (" + lockPath + " is locked)");
        }
    }

    private static String message(Throwable e) {
        return e.getMessage() != null ? e.getMessage() : e.toString();
    }

    /** The address the server is bound to, with the real port when port 0 was asked for. */
    public synchronized InetSocketAddress address() {
        if (address == null) {
            throw new IllegalStateException("daemon not started");
        }
        return address;
    }

    public int port() {
        return address().getPort();
    }

    /** {@code nbd://HOST:PORT/NAME} for an export, with a host a local client can connect to. */
    public String uri(String export) {
        InetSocketAddress a = address();
        String hostPort = a.getAddress().isAnyLocalAddress()
                ? ListenAddress.format(a.getAddress() instanceof Inet6Address ? "::1" : "127.0.0.1", a.getPort())
                : ListenAddress.format(a);
        return "nbd://" + hostPort + "/" + export;
    }

    /** The devices being served: saved ones, then the command line's, in the order they were made. */
    public synchronized List<Served> served() {
        Map<String, DeviceSpec> given = new HashMap<>();
        for (DeviceSpec s : config.devices()) {
            given.put(s.name(), s);
        }
        List<Served> out = new ArrayList<>();
        for (String name : registry.names()) {
            var device = registry.device(name);
            if (device == null) {
                continue;
            }
            DeviceSpec spec = given.get(name);
            String description = spec != null ? spec.describe()
                    : DeviceRegistry.describe(device.table());
            Optional<ExportInfo> x = registry.exportOf(name);
            out.add(new Served(name, description, device, x.map(ExportInfo::export).orElse(null),
                    x.map(ExportInfo::readOnly).orElse(false)));
        }
        return out;
    }

    /** The device registry: what the control socket drives. */
    public synchronized DeviceRegistry registry() {
        return registry;
    }

    /** Where the control socket listens. */
    public Path controlSocket() {
        return config.control();
    }

    /** The request buffers; tests check that nothing stays lent. */
    public synchronized BufferPool buffers() {
        return buffers;
    }

    /** The NBD server, for tests that look at its connections. */
    public synchronized NbdServer server() {
        return server;
    }

    /**
     * Stops serving: closes the NBD server (in-flight requests finish), then every device (file
     * devices flush), then the buffer pool. Closing twice does nothing.
     *
     * @throws IOException if a device failed to close cleanly (the others are still closed)
     */
    @Override
    public synchronized void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        IOException failure = null;
        ControlServer c = control;
        if (c != null) {
            c.close();
        }
        if (server != null) {
            try {
                server.close();
            } catch (RuntimeException e) {
                failure = add(failure, new IOException("closing the NBD server: " + message(e), e));
            }
        }
        if (registry != null) {
            try {
                registry.close();
            } catch (IOException | RuntimeException e) {
                failure = add(failure, new IOException("closing devices: " + message(e), e));
            }
        }
        if (buffers != null) {
            buffers.close();
        }
        try {
            if (lock != null) {
                lock.release();
            }
            if (lockChannel != null) {
                lockChannel.close();
            }
        } catch (IOException e) {
            failure = add(failure, e);
        }
        if (failure != null) {
            throw failure;
        }
    }

    private static IOException add(IOException first, IOException next) {
        if (first == null) {
            return next;
        }
        first.addSuppressed(next);
        return first;
    }

    private void closeQuietly(Throwable cause) {
        try {
            close();
        } catch (IOException | RuntimeException e) {
            cause.addSuppressed(e);
        }
    }
}
