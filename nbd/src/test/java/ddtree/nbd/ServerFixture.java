package ddtree.nbd;

import ddtree.block.BufferPool;
import ddtree.block.device.RamDevice;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/** An in-process server on a loopback port with three RAM exports: ram, odd-sized and read-only. */
final class ServerFixture implements AutoCloseable {
    static final long RAM_SIZE = 1 << 20;
    /** Not a multiple of any block size, so edge arithmetic is exercised. */
    static final long ODD_SIZE = 130_000;

    final BufferPool pool = new BufferPool(64L << 20, 8L << 20);
    final RamDevice ram = new RamDevice("ram", RAM_SIZE);
    final RamDevice odd = new RamDevice("odd", ODD_SIZE);
    final RamDevice ro = new RamDevice("ro", RAM_SIZE);
    final ExportTable exports = new ExportTable();
    final NbdServer server;

    ServerFixture() throws IOException {
        this(NbdServerConfig.loopback(0));
    }

    ServerFixture(NbdServerConfig config) throws IOException {
        exports.put(new Export("ram", "a RAM disk", ram, false));
        exports.put(new Export("odd", "", odd, false));
        exports.put(new Export("ro", "read-only", ro, true));
        exports.setDefaultName("ram");
        server = new NbdServer(config, exports, pool);
        server.start();
    }

    InetSocketAddress address() {
        return server.localAddress();
    }

    RawClient client() throws IOException {
        return new RawClient(address());
    }

    /** True once every buffer lent for requests has come back. */
    boolean buffersReturned() throws InterruptedException {
        return pool.awaitIdle(5, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws IOException {
        server.close();
        ram.close();
        odd.close();
        ro.close();
        pool.close();
    }
}
