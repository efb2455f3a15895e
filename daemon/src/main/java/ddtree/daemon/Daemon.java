package ddtree.daemon;

import ddtree.block.BlockDevice;
import ddtree.block.BufferPool;
import ddtree.block.device.FileDevice;
import ddtree.block.device.RamDevice;
import ddtree.nbd.Export;
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
import java.util.Collections;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running ddtree: the state directory (locked, so two daemons never share one), the devices,
 * the buffer pool, and the NBD server exporting every device under its name.
 *
 * <p>{@link #start} opens everything and starts listening; {@link #close} stops in the order that
 * keeps data safe: the NBD server first (it lets in-flight requests finish), then each device
 * (a file device flushes when closed), then the buffer pool. Tests start one in-process on port 0
 * and read the real port from {@link #address}.
 */
public final class Daemon implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Daemon.class);
    static final String LOCK_FILE = "ddtree.lock";

    /** A device the daemon opened, with how it was asked for. */
    public record Served(DeviceSpec spec, BlockDevice device, boolean readOnly) {
        public String name() {
            return spec.name();
        }
    }

    private final DaemonConfig config;
    private final List<Served> served = new ArrayList<>();
    private FileChannel lockChannel;
    private FileLock lock;
    private BufferPool buffers;
    private NbdServer server;
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
            for (DeviceSpec spec : config.devices()) {
                boolean readOnly = config.isReadOnly(spec.name());
                served.add(new Served(spec, open(spec, readOnly), readOnly));
            }
            long budget = config.bufferBudget();
            buffers = new BufferPool(budget, DaemonConfig.reserveOf(budget));
            ExportTable exports = new ExportTable();
            for (Served s : served) {
                exports.put(new Export(s.name(), s.spec().describe(), s.device(), s.readOnly()));
            }
            exports.setDefaultName(config.defaultExport());
            InetSocketAddress bindTo;
            try {
                bindTo = config.listen().resolve();
            } catch (UnknownHostException e) {
                throw new IOException("cannot listen on " + config.listen() + ": unknown host " + config.listen().host(), e);
            }
            NbdServerConfig defaults = NbdServerConfig.loopback(0);
            NbdServerConfig nbd = new NbdServerConfig(bindTo, config.maxConnections(),
                    defaults.requestsPerConnection(), defaults.virtualThreads());
            server = new NbdServer(nbd, exports, buffers);
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
            LOG.info("serving {} export(s) on {}", served.size(), ListenAddress.format(address));
        } catch (IOException | RuntimeException e) {
            closeQuietly(e);
            throw e;
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

    private static BlockDevice open(DeviceSpec spec, boolean readOnly) throws IOException {
        try {
            return switch (spec.kind()) {
                case RAM -> new RamDevice(spec.name(), spec.size().getAsLong());
                case FILE -> FileDevice.open(spec.name(), spec.path(), spec.size().orElse(0),
                        readOnly && Files.exists(spec.path()));
            };
        } catch (IOException | RuntimeException | OutOfMemoryError e) {
            throw new IOException("cannot open device " + spec.name() + " (" + spec.describe() + "): " + message(e), e);
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

    /** The devices being served, in the order they were given. */
    public synchronized List<Served> served() {
        return Collections.unmodifiableList(new ArrayList<>(served));
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
        if (server != null) {
            try {
                server.close();
            } catch (RuntimeException e) {
                failure = add(failure, new IOException("closing the NBD server: " + message(e), e));
            }
        }
        for (int i = served.size() - 1; i >= 0; i--) {
            Served s = served.get(i);
            try {
                s.device().close();
            } catch (IOException | RuntimeException e) {
                failure = add(failure, new IOException("closing device " + s.name() + ": " + message(e), e));
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
