package ddtree.nbd.client;

import ddtree.block.BlockDevice;
import ddtree.block.BufferPool;
import ddtree.nbd.Export;
import ddtree.nbd.ExportTable;
import ddtree.nbd.NbdServer;
import ddtree.nbd.NbdServerConfig;
import java.io.IOException;
import java.net.InetSocketAddress;

/** A ddtree NBD server on loopback serving given devices; it can be stopped and started again on the same port. */
final class RemoteServer implements AutoCloseable {
    final BufferPool pool = new BufferPool(128L << 20, 8L << 20);
    final ExportTable exports = new ExportTable();
    private NbdServer server;
    private int port;

    RemoteServer export(String name, BlockDevice device, boolean readOnly) {
        exports.put(new Export(name, "", device, readOnly));
        return this;
    }

    /** Starts on {@code port}, 0 for any free one; returns the port. */
    int start(int wanted) throws IOException {
        server = new NbdServer(NbdServerConfig.loopback(wanted), exports, pool);
        server.start();
        port = server.localAddress().getPort();
        return port;
    }

    int port() {
        return port;
    }

    /** Stops the server; connections finish what is in flight and close. */
    void stop() {
        if (server != null) {
            server.close();
            server = null;
        }
    }

    InetSocketAddress address() {
        return new InetSocketAddress("127.0.0.1", port);
    }

    @Override
    public void close() {
        stop();
        pool.close();
    }
}
