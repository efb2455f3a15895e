package ddtree.mapper.targets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ddtree.block.BlockDevice;
import ddtree.block.BufferPool;
import ddtree.block.DeviceIo;
import ddtree.block.Errno;
import ddtree.block.Op;
import ddtree.block.device.RamDevice;
import ddtree.mapper.MappedDevice;
import ddtree.mapper.StatusType;
import ddtree.mapper.TableException;
import ddtree.mapper.TableParser;
import ddtree.mapper.TargetContext;
import ddtree.mapper.TargetTypes;
import ddtree.nbd.Export;
import ddtree.nbd.ExportTable;
import ddtree.nbd.NbdServer;
import ddtree.nbd.NbdServerConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The nbd target over an in-process ddtree NBD server on loopback. */
@Timeout(60)
class NbdTargetTest {
    private final RamDevice remote = new RamDevice("remote", 1 << 20); // 2048 sectors
    private final BufferPool serverPool = new BufferPool(64L << 20, 8L << 20);
    private final DeviceIo remoteIo = new DeviceIo(remote);
    private final ExportTable exports = new ExportTable();
    private final Context ctx = new Context();
    private NbdServer server;
    private int port;

    @BeforeEach
    void start() throws Exception {
        exports.put(new Export("disk0", "", remote, false));
        server = new NbdServer(NbdServerConfig.loopback(0), exports, serverPool);
        server.start();
        port = server.localAddress().getPort();
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
        remote.close();
        serverPool.close();
        remoteIo.close();
    }

    private MappedDevice create(String table) throws TableException {
        return MappedDevice.create("n", TableParser.parse(table), ctx, TargetTypes.builtin());
    }

    @Test
    void mapsOntoTheRemoteExportAtItsOffset() throws Exception {
        try (MappedDevice d = create("0 1024 nbd 127.0.0.1:" + port + " disk0 16"); DeviceIo io = new DeviceIo(d)) {
            assertThat(d.size()).isEqualTo(1024 * 512);
            byte[] data = DeviceIo.pattern(5000, 1);
            assertThat(io.write(100, data)).isEqualTo(Errno.OK);
            assertThat(io.read(100, data.length)).isEqualTo(data);
            assertThat(remoteIo.read(16 * 512 + 100, data.length)).isEqualTo(data);
            assertThat(d.status(StatusType.INFO)).containsExactly("0 1024 nbd connected");
            assertThat(d.status(StatusType.TABLE)).containsExactly("0 1024 nbd 127.0.0.1:" + port + " disk0 16");
            assertThat(d.dependencies()).isEmpty();
            assertThat(d.capabilities().discard()).isTrue();
        }
    }

    @Test
    void tableStatusRoundTripsWithAndWithoutTheOffset() throws Exception {
        for (String args : List.of("127.0.0.1:" + port + " disk0", "127.0.0.1:" + port + " disk0 0")) {
            String line = "0 2048 nbd " + args;
            try (MappedDevice d = create(line)) {
                assertThat(d.status(StatusType.TABLE)).containsExactly(line);
                try (MappedDevice again = create(d.status(StatusType.TABLE).getFirst())) {
                    assertThat(again.size()).isEqualTo(d.size());
                }
            }
        }
    }

    @Test
    void badLinesNameTheValueAtFault() {
        assertThatThrownBy(() -> create("0 2048 nbd 127.0.0.1:" + port + " disk0 1"))
                .hasMessageContaining("offset 1 + length 2048 sectors is past its end (2048 sectors)");
        assertThatThrownBy(() -> create("0 8 nbd 127.0.0.1:" + port))
                .hasMessageContaining("expects 2 or 3 arguments");
        assertThatThrownBy(() -> create("0 8 nbd localhost disk0"))
                .hasMessageContaining("address 'localhost' is not <host:port>");
        assertThatThrownBy(() -> create("0 8 nbd 127.0.0.1:70000 disk0"))
                .hasMessageContaining("port 70000 is out of range");
        assertThatThrownBy(() -> create("0 8 nbd 127.0.0.1:" + port + " nosuch"))
                .hasMessageContaining("no export named 'nosuch'");
    }

    @Test
    void reconnectsAfterTheServerComesBackAndReportsEvents() throws Exception {
        // A request waits out the server's restart, so it gets longer than DeviceIo's default.
        try (MappedDevice d = create("0 2048 nbd 127.0.0.1:" + port + " disk0");
                DeviceIo io = new DeviceIo(d, Duration.ofSeconds(30))) {
            assertThat(io.write(0, DeviceIo.pattern(512, 1))).isEqualTo(Errno.OK);
            server.close();
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!d.status(StatusType.INFO).getFirst().endsWith("reconnecting") && System.nanoTime() < until) {
                Thread.sleep(10);
            }
            assertThat(d.status(StatusType.INFO)).containsExactly("0 2048 nbd reconnecting");
            DeviceIo.Pending waiting = io.start(Op.WRITE, 512, 512, DeviceIo.pattern(512, 2));
            server = new NbdServer(NbdServerConfig.loopback(port), exports, serverPool);
            server.start();
            assertThat(waiting.await()).isEqualTo(Errno.OK);
            assertThat(remoteIo.read(512, 512)).isEqualTo(DeviceIo.pattern(512, 2));
            assertThat(d.status(StatusType.INFO)).containsExactly("0 2048 nbd connected");
            String prefix = "n: nbd 127.0.0.1:" + port + "/disk0: ";
            // The event may follow the first requests through the new connection by a moment.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (ctx.events().stream().noneMatch(e -> e.startsWith(prefix + "reconnected to "))
                    && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertThat(ctx.events()).anySatisfy(e -> assertThat(e).startsWith(prefix + "disconnected: "));
            assertThat(ctx.events()).anySatisfy(e -> assertThat(e).startsWith(prefix + "reconnected to "));
        }
    }

    /** No lower devices (the export is remote); events recorded as "device: text". */
    private static final class Context implements TargetContext {
        final List<String> events = Collections.synchronizedList(new ArrayList<>());
        final BufferPool buffers = new BufferPool(64L << 20, 0);

        @Override
        public BlockDevice lowerDevice(String nameOrPath) throws TableException {
            throw new TableException("no device or file '" + nameOrPath + "'");
        }

        @Override
        public void event(String deviceName, String text) {
            events.add(deviceName + ": " + text);
        }

        /** A copy, since the client's threads add events while a test reads them. */
        List<String> events() {
            synchronized (events) {
                return List.copyOf(events);
            }
        }

        @Override
        public BufferPool buffers() {
            return buffers;
        }
    }
}
