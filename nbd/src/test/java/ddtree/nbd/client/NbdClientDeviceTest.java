package ddtree.nbd.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ddtree.block.DeviceIo;
import ddtree.block.Errno;
import ddtree.block.Extents;
import ddtree.block.Op;
import ddtree.block.device.RamDevice;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The client against an in-process ddtree server with RAM exports. */
class NbdClientDeviceTest {
    static final long SIZE = 64L << 20;

    RamDevice ram;
    RamDevice ro;
    RemoteServer server;
    NbdClientDevice client;
    DeviceIo io;

    @BeforeEach
    void setUp() throws IOException {
        ram = new RamDevice("ram", SIZE);
        ro = new RamDevice("ro", 1 << 20);
        server = new RemoteServer().export("disk", ram, false).export("ro", ro, true);
        server.start(0);
    }

    @AfterEach
    void tearDown() throws IOException {
        if (client != null) {
            client.close();
        }
        if (io != null) {
            io.close();
        }
        server.close();
        ram.close();
        ro.close();
    }

    private NbdClientDevice connect(String export, ClientOptions options) throws IOException {
        client = NbdClientDevice.connect("remote", "127.0.0.1", server.port(), export, options);
        io = new DeviceIo(client);
        return client;
    }

    @Test
    void negotiatesSizeCapabilitiesAndLimits() throws IOException {
        connect("disk", ClientOptions.defaults());
        assertThat(client.size()).isEqualTo(SIZE);
        assertThat(client.state()).isEqualTo(ConnectionState.CONNECTED);
        assertThat(client.capabilities().flush()).isTrue();
        assertThat(client.capabilities().fua()).isTrue();
        assertThat(client.capabilities().discard()).isTrue();
        assertThat(client.capabilities().writeZeroes()).isTrue();
        assertThat(client.capabilities().fastZero()).isTrue();
        assertThat(client.capabilities().extents()).isTrue();
        assertThat(client.splitBytes()).isEqualTo(32 << 20);
        assertThat(client.readOnly()).isFalse();
    }

    @Test
    void unalignedWritesReadBackThroughTheServerAndOnTheDevice() throws Exception {
        connect("disk", ClientOptions.defaults());
        long[] offsets = {0, 1, 511, 4097, 65535, 1_000_003, SIZE - 7};
        int[] lengths = {1, 7, 513, 4095, 70_000, 123_457, 7};
        for (int i = 0; i < offsets.length; i++) {
            byte[] data = DeviceIo.randomBytes(lengths[i], i);
            assertThat(Errno.name(io.write(offsets[i], data))).isEqualTo("OK");
            assertThat(io.read(offsets[i], lengths[i])).isEqualTo(data);
            try (DeviceIo direct = new DeviceIo(ram)) {
                assertThat(direct.read(offsets[i], lengths[i])).isEqualTo(data);
            }
        }
    }

    @Test
    void requestsPastTheEndAreRefusedWithoutReachingTheServer() throws Exception {
        connect("disk", ClientOptions.defaults());
        assertThat(io.write(SIZE - 3, new byte[4])).isEqualTo(Errno.ENOSPC);
        assertThat(io.readStatus(SIZE, 4096)).isEqualTo(Errno.EINVAL);
    }

    /** Requests of a mebibyte on the wire together, each its own bio, as a striped device above would send. */
    @Test
    void concurrentLargeWritesLandIntactOnTheDevice() throws Exception {
        connect("disk", ClientOptions.defaults());
        List<DeviceIo.Pending> writes = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            writes.add(io.start(Op.WRITE, 12345 + i * (1L << 20), 1 << 20, DeviceIo.randomBytes(1 << 20, i)));
        }
        for (DeviceIo.Pending w : writes) {
            assertThat(w.await()).isEqualTo(Errno.OK);
        }
        try (DeviceIo direct = new DeviceIo(ram)) {
            for (int i = 0; i < 16; i++) {
                assertThat(direct.read(12345 + i * (1L << 20), 1 << 20)).as("write %d", i)
                        .isEqualTo(DeviceIo.randomBytes(1 << 20, i));
            }
        }
    }

    @Test
    void largeRequestsAreSplitAtTheRequestLimit() throws Exception {
        connect("disk", ClientOptions.defaults().withMaxRequestBytes(1 << 20));
        assertThat(client.splitBytes()).isEqualTo(1 << 20);
        int len = 32 << 20;
        byte[] data = DeviceIo.randomBytes(len, 42);
        long offset = 12345;
        assertThat(io.write(offset, data)).isEqualTo(Errno.OK);
        assertThat(io.read(offset, len)).isEqualTo(data);
        try (DeviceIo direct = new DeviceIo(ram)) {
            assertThat(direct.read(offset, len)).isEqualTo(data);
        }
    }

    @Test
    void writeZeroesBeyondFourGibibytesIsSplit() throws Exception {
        RamDevice big = new RamDevice("big", 6L << 30);
        server.export("big", big, false);
        try {
            connect("big", ClientOptions.defaults());
            long[] marks = {0, (1L << 30) - 1, 1L << 30, (4L << 30) + 5, (5L << 30) + 77};
            for (long m : marks) {
                assertThat(io.write(m, new byte[] {1, 2, 3})).isEqualTo(Errno.OK);
            }
            long length = (5L << 30) + 100;
            assertThat(Errno.name(io.writeZeroes(0, length))).isEqualTo("OK");
            for (long m : marks) {
                assertThat(io.read(m, 3)).containsOnly(0);
            }
        } finally {
            client.close();
            client = null;
            big.close();
        }
    }

    @Test
    void manyConcurrentRequestsKeepTheirData() throws Exception {
        connect("disk", ClientOptions.defaults().withMaxInflight(8));
        int threads = 16;
        int perThread = 100;
        int chunk = 8192 + 3;
        List<Thread> workers = new ArrayList<>();
        List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
        for (int t = 0; t < threads; t++) {
            int id = t;
            workers.add(Thread.ofPlatform().start(() -> {
                try {
                    List<DeviceIo.Pending> pending = new ArrayList<>();
                    for (int i = 0; i < perThread; i++) {
                        long offset = (long) (id * perThread + i) * chunk;
                        pending.add(io.start(Op.WRITE, offset, chunk, DeviceIo.randomBytes(chunk, offset)));
                    }
                    for (DeviceIo.Pending p : pending) {
                        assertThat(p.await()).isEqualTo(Errno.OK);
                    }
                    for (int i = 0; i < perThread; i++) {
                        long offset = (long) (id * perThread + i) * chunk;
                        assertThat(io.read(offset, chunk)).isEqualTo(DeviceIo.randomBytes(chunk, offset));
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
            }));
        }
        for (Thread w : workers) {
            assertThat(w.join(java.time.Duration.ofSeconds(120))).isTrue();
        }
        assertThat(failures).isEmpty();
    }

    @Test
    void flushTrimZeroesAndExtents() throws Exception {
        connect("disk", ClientOptions.defaults());
        byte[] data = DeviceIo.randomBytes(1 << 20, 7);
        assertThat(io.write(0, data)).isEqualTo(Errno.OK);
        assertThat(io.flush()).isEqualTo(Errno.OK);
        assertThat(io.write(0, data, ddtree.block.Bio.FUA)).isEqualTo(Errno.OK);

        Extents e = new Extents(64);
        client.extents(0, 2 << 20, e);
        assertThat(e.count()).isEqualTo(2);
        assertThat(e.length(0)).isEqualTo(1 << 20);
        assertThat(e.flags(0)).isZero();
        assertThat(e.flags(1)).isEqualTo(Extents.HOLE | Extents.ZERO);
        assertThat(e.totalLength()).isEqualTo(2 << 20);

        assertThat(io.discard(256 << 10, 256 << 10)).isEqualTo(Errno.OK);
        assertThat(io.read(256 << 10, 256 << 10)).containsOnly(0);
        e.clear();
        client.extents(0, 1 << 20, e);
        assertThat(e.count()).isEqualTo(3);
        assertThat(e.flags(1) & Extents.ZERO).isEqualTo(Extents.ZERO);

        assertThat(io.writeZeroes(10, 1000, ddtree.block.Bio.NO_HOLE)).isEqualTo(Errno.OK);
        assertThat(io.writeZeroes(5000, 1000, ddtree.block.Bio.FAST_ZERO)).isEqualTo(Errno.OK);
        byte[] back = io.read(0, 8192);
        for (int i = 0; i < back.length; i++) {
            boolean zeroed = (i >= 10 && i < 1010) || (i >= 5000 && i < 6000);
            assertThat(back[i]).as("byte %d", i).isEqualTo(zeroed ? 0 : data[i]);
        }
        // A sparse read through the structured path: hole chunks are zero-filled.
        assertThat(io.read(0, 2 << 20)).startsWith(java.util.Arrays.copyOf(back, 10));
    }

    @Test
    void readOnlyExportRefusesWritesLocally() throws Exception {
        connect("ro", ClientOptions.defaults());
        assertThat(client.readOnly()).isTrue();
        assertThat(io.write(0, new byte[10])).isEqualTo(Errno.EPERM);
        assertThat(io.read(0, 10)).containsOnly(0);
    }

    @Test
    void anUnknownExportNamesServerAndExport() {
        assertThatThrownBy(() -> NbdClientDevice.connect("x", "127.0.0.1", server.port(), "nope",
                        ClientOptions.defaults()))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("127.0.0.1:" + server.port())
                .hasMessageContaining("no export named 'nope'");
    }

    @Test
    void nobodyListeningFailsTheFirstConnect() throws Exception {
        int port = server.port();
        server.stop();
        assertThatThrownBy(() -> NbdClientDevice.connect("x", "127.0.0.1", port, "disk",
                        ClientOptions.defaults().withConnectTimeout(java.time.Duration.ofSeconds(2))))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("cannot connect to nbd://127.0.0.1:" + port + "/disk");
    }

    @Test
    void closeFailsWaitingRequestsWithEshutdown() throws Exception {
        connect("disk", ClientOptions.defaults().withReconnect(java.time.Duration.ofSeconds(30),
                java.time.Duration.ofSeconds(30)));
        server.stop(); // the client notices and waits to reconnect
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (client.state() == ConnectionState.CONNECTED && System.nanoTime() < until) {
            Thread.sleep(10);
        }
        assertThat(client.state()).isEqualTo(ConnectionState.RECONNECTING);
        DeviceIo.Pending waiting = io.start(Op.READ, 0, 4096, null);
        Thread.sleep(50);
        assertThat(waiting.isDone()).isFalse();
        client.close();
        assertThat(waiting.await()).isEqualTo(Errno.ESHUTDOWN);
        assertThat(client.state()).isEqualTo(ConnectionState.CLOSED);
        assertThat(io.write(0, new byte[1])).isEqualTo(Errno.ESHUTDOWN);
    }
}
