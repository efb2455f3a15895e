package ddtree.nbd;

import ddtree.block.BlockDevice;
import ddtree.block.BufferPool;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Accepts NBD clients and serves each connection on its own thread. Every connection is
 * registered until it ends, so {@link #close} can stop them all: it stops accepting, lets each
 * connection finish the requests it has in flight, and closes the sockets.
 */
public final class NbdServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(NbdServer.class);

    private final NbdServerConfig config;
    private final ExportCatalog exports;
    private final BufferPool buffers;
    private final Set<NbdConnection> connections = ConcurrentHashMap.newKeySet();
    private final ThreadFactory connectionThreads;
    private final BusyPoll busyPoll;
    private final BusyConnections busyConnections;
    private ServerSocketChannel listener;
    private Thread acceptor;
    private volatile boolean closing;

    public NbdServer(NbdServerConfig config, ExportCatalog exports, BufferPool buffers) {
        this.config = config;
        this.busyConnections = new BusyConnections(config.effectiveCpus());
        this.exports = exports;
        this.buffers = buffers;
        // A virtual thread that polls would hold its carrier, which other connections need.
        this.busyPoll = config.virtualThreads() ? BusyPoll.OFF : BusyPoll.of(config.busyPollMicros());
        this.connectionThreads = config.virtualThreads()
                ? Thread.ofVirtual().name("nbd-conn-", 0).factory()
                : Thread.ofPlatform().name("nbd-conn-", 0).daemon(true).factory();
    }

    /** Binds the listening socket and starts accepting. */
    public synchronized void start() throws IOException {
        if (listener != null) {
            throw new IllegalStateException("server already started");
        }
        ServerSocketChannel ch = ServerSocketChannel.open();
        try {
            ch.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            ch.bind(config.listen(), 256);
        } catch (IOException e) {
            ch.close();
            throw new IOException("cannot listen on " + config.listen() + ": " + e.getMessage(), e);
        }
        listener = ch;
        acceptor = Thread.ofPlatform().name("nbd-accept").daemon(true).start(this::acceptLoop);
    }

    /** The bound address, with the real port when port 0 was asked for. */
    public InetSocketAddress localAddress() {
        try {
            return (InetSocketAddress) listener.getLocalAddress();
        } catch (IOException e) {
            throw new IllegalStateException("listener is closed", e);
        }
    }

    private void acceptLoop() {
        while (!closing) {
            SocketChannel client;
            try {
                client = listener.accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                if (!closing) {
                    LOG.warn("accept failed: {}", e.toString());
                }
                continue;
            }
            String peer = peerName(client);
            if (connections.size() >= config.maxConnections()) {
                LOG.warn("refusing {}: {} connections already open", peer, connections.size());
                closeQuietly(client);
                continue;
            }
            try {
                client.setOption(StandardSocketOptions.TCP_NODELAY, true);
                client.configureBlocking(true);
            } catch (IOException e) {
                closeQuietly(client);
                continue;
            }
            NbdConnection conn = new NbdConnection(client, exports, buffers, config.requestsPerConnection(), peer,
                    busyPoll, config.offloadMinBytes(), busyConnections, config.handoffMinBytes());
            connections.add(conn);
            if (closing) { // close() may have walked the set before we added to it
                connections.remove(conn);
                closeQuietly(client);
                return;
            }
            connectionThreads.newThread(() -> {
                try {
                    conn.run();
                } finally {
                    connections.remove(conn);
                }
            }).start();
        }
    }

    /** Connections open now. */
    public int connectionCount() {
        return connections.size();
    }

    /** Connections with requests in flight now. */
    int busyConnections() {
        return busyConnections.busy();
    }

    /** How many connections are in transmission on {@code device}. */
    public int openCount(BlockDevice device) {
        int n = 0;
        for (NbdConnection c : connections) {
            if (c.device() == device) {
                n++;
            }
        }
        return n;
    }

    /**
     * Stops accepting, lets every connection finish its in-flight requests (new ones get
     * ESHUTDOWN), and closes them, waiting up to 30 seconds in all.
     */
    @Override
    public void close() {
        closing = true;
        synchronized (this) {
            if (listener != null) {
                closeQuietly(listener);
            }
        }
        for (NbdConnection c : connections) {
            c.shutdown();
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        for (NbdConnection c : connections) {
            if (!c.awaitClosed(Math.max(0, deadline - System.nanoTime()))) {
                LOG.warn("connection {} did not finish in time; closing it", c.peer());
                c.abort();
            }
            connections.remove(c);
        }
        if (acceptor != null) {
            try {
                acceptor.join(TimeUnit.SECONDS.toMillis(5));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static String peerName(SocketChannel ch) {
        try {
            return String.valueOf(ch.getRemoteAddress());
        } catch (IOException e) {
            return "unknown peer";
        }
    }

    static void closeQuietly(java.nio.channels.Channel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // already closed or broken: nothing left to release
        }
    }
}
