package ddtree.nbd.client;

import static org.assertj.core.api.Assertions.assertThat;

import ddtree.block.Bio;
import ddtree.block.BlockDevice;
import ddtree.block.DeviceIo;
import ddtree.block.Errno;
import ddtree.block.ForwardingDevice;
import ddtree.block.Op;
import ddtree.block.device.RamDevice;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Servers that go away: the client waits, reconnects, resends, or gives up on time. */
class NbdClientReconnectTest {
    static final long SIZE = 16L << 20;
    /** Requests here wait out a server that is down, so they get longer than DeviceIo's default. */
    static final Duration WAIT = Duration.ofSeconds(30);

    RamDevice ram;
    RemoteServer server;
    NbdClientDevice client;
    DeviceIo io;
    final List<String> events = Collections.synchronizedList(new ArrayList<>());

    @BeforeEach
    void setUp() throws IOException {
        ram = new RamDevice("ram", SIZE);
        server = new RemoteServer().export("disk", ram, false);
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
    }

    /** A copy, since the client's threads add events while a test reads them. */
    private List<String> events() {
        synchronized (events) {
            return List.copyOf(events);
        }
    }

    private void connect(ClientOptions options) throws IOException {
        client = NbdClientDevice.connect("remote", "127.0.0.1", server.port(), "disk", options.withEvents(events::add));
        io = new DeviceIo(client, WAIT);
    }

    private static boolean waitFor(java.util.function.BooleanSupplier condition, long seconds) throws InterruptedException {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > until) {
                return false;
            }
            Thread.sleep(5);
        }
        return true;
    }

    @Test
    void requestsIssuedWhileTheServerIsDownCompleteAfterItComesBack() throws Exception {
        connect(ClientOptions.defaults().withReconnect(Duration.ofMillis(20), Duration.ofMillis(200)));
        int port = server.port();
        int chunk = 4096 + 17;
        int total = 400;
        List<DeviceIo.Pending> writes = new ArrayList<>();
        for (int i = 0; i < total; i++) {
            long offset = (long) i * chunk;
            writes.add(io.start(Op.WRITE, offset, chunk, DeviceIo.randomBytes(chunk, offset)));
            if (i == 100) {
                server.stop();
                assertThat(waitFor(() -> client.state() == ConnectionState.RECONNECTING, 10)).isTrue();
            }
            if (i == 300) {
                Thread.sleep(300); // several reconnect attempts fail meanwhile
                assertThat(writes.get(200).isDone()).isFalse();
                assertThat(server.start(port)).isEqualTo(port);
            }
        }
        for (int i = 0; i < total; i++) {
            assertThat(Errno.name(writes.get(i).await())).as("write %d", i).isEqualTo("OK");
        }
        assertThat(client.state()).isEqualTo(ConnectionState.CONNECTED);
        assertThat(client.reconnects()).isEqualTo(1);
        try (DeviceIo direct = new DeviceIo(ram)) {
            for (int i = 0; i < total; i++) {
                long offset = (long) i * chunk;
                assertThat(io.read(offset, chunk)).as("read %d", i).isEqualTo(DeviceIo.randomBytes(chunk, offset));
                assertThat(direct.read(offset, chunk)).isEqualTo(DeviceIo.randomBytes(chunk, offset));
            }
        }
        // The event may follow the first requests through the new connection by a moment.
        assertThat(waitFor(() -> events.size() >= 2, 10)).isTrue();
        List<String> seen = events();
        assertThat(seen).hasSize(2);
        assertThat(seen.get(0)).startsWith("disconnected: ");
        assertThat(seen.get(1)).startsWith("reconnected to 127.0.0.1:" + port + " after ");
    }

    @Test
    void readsInFlightAtTheDropAreRepeatedAfterTheReconnect() throws Exception {
        byte[] data = DeviceIo.randomBytes(1 << 20, 3);
        try (DeviceIo direct = new DeviceIo(ram)) {
            assertThat(direct.write(0, data)).isEqualTo(Errno.OK);
        }
        connect(ClientOptions.defaults().withReconnect(Duration.ofMillis(20), Duration.ofMillis(100)));
        int port = server.port();
        server.stop();
        assertThat(waitFor(() -> client.state() == ConnectionState.RECONNECTING, 10)).isTrue();
        List<DeviceIo.Pending> reads = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            reads.add(io.start(Op.READ, (long) i * 65536, 65536, null));
        }
        server.start(port);
        for (int i = 0; i < 16; i++) {
            assertThat(reads.get(i).data()).isEqualTo(java.util.Arrays.copyOfRange(data, i * 65536, (i + 1) * 65536));
        }
    }

    @Test
    void aServerThatNeverReturnsFailsRequestsWithEioAfterTheTimeout() throws Exception {
        connect(ClientOptions.defaults().withRequestTimeout(Duration.ofMillis(400))
                .withReconnect(Duration.ofMillis(20), Duration.ofMillis(100)));
        server.stop();
        assertThat(waitFor(() -> client.state() == ConnectionState.RECONNECTING, 10)).isTrue();
        long start = System.nanoTime();
        assertThat(io.write(0, new byte[100])).isEqualTo(Errno.EIO);
        long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertThat(tookMillis).isBetween(350L, 5000L);
        assertThat(client.state()).isEqualTo(ConnectionState.RECONNECTING);
        assertThat(events()).first().asString().startsWith("disconnected: ");
    }

    @Test
    void aRequestTheServerHoldsPastTheTimeoutFailsAndTheConnectionIsMadeAgain() throws Exception {
        StallingDevice stall = new StallingDevice(ram);
        server.export("stall", stall, false);
        client = NbdClientDevice.connect("remote", "127.0.0.1", server.port(), "stall", ClientOptions.defaults()
                .withRequestTimeout(Duration.ofMillis(400)).withReconnect(Duration.ofMillis(20), Duration.ofMillis(100))
                .withEvents(events::add));
        io = new DeviceIo(client, WAIT);
        assertThat(io.write(0, new byte[] {9})).isEqualTo(Errno.OK);
        stall.stalling = true;
        long start = System.nanoTime();
        assertThat(io.write(0, new byte[] {1})).isEqualTo(Errno.EIO);
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isBetween(350L, 5000L);
        stall.stalling = false;
        assertThat(waitFor(() -> client.reconnects() == 1 && client.state() == ConnectionState.CONNECTED, 10))
                .isTrue();
        assertThat(io.write(1, new byte[] {2})).isEqualTo(Errno.OK);
        assertThat(io.read(1, 1)).containsExactly(2);
        assertThat(events()).anySatisfy(e -> assertThat(e).contains("no answer within 400 ms"));
        stall.releaseAll(); // so the server's connection can finish and the server stop
    }

    @Test
    void aServerThatComesBackWithAnotherSizeLeavesTheDeviceFailed() throws Exception {
        connect(ClientOptions.defaults().withReconnect(Duration.ofMillis(20), Duration.ofMillis(100)));
        int port = server.port();
        server.stop();
        assertThat(waitFor(() -> client.state() == ConnectionState.RECONNECTING, 10)).isTrue();
        DeviceIo.Pending waiting = io.start(Op.READ, 0, 4096, null);
        try (RamDevice other = new RamDevice("other", SIZE * 2); RemoteServer second = new RemoteServer()) {
            second.export("disk", other, false);
            second.start(port);
            assertThat(waiting.await()).isEqualTo(Errno.EIO);
            assertThat(client.state()).isEqualTo(ConnectionState.FAILED);
            assertThat(io.write(0, new byte[1])).isEqualTo(Errno.EIO);
            assertThat(events()).last().asString()
                    .startsWith("failed: nbd://127.0.0.1:" + port + "/disk came back changed: size is now "
                            + (SIZE * 2) + " bytes, was " + SIZE);
        }
    }

    /** Passes requests to a device, or holds them while {@link #stalling}. */
    static final class StallingDevice extends ForwardingDevice {
        volatile boolean stalling;
        final ConcurrentLinkedQueue<Bio> held = new ConcurrentLinkedQueue<>();

        StallingDevice(BlockDevice inner) {
            super(inner);
        }

        @Override
        public String name() {
            return "stall";
        }

        @Override
        public void submit(Bio bio) {
            if (stalling) {
                held.add(bio);
            } else {
                inner.submit(bio);
            }
        }

        void releaseAll() {
            Bio b;
            while ((b = held.poll()) != null) {
                b.complete(Errno.EIO);
            }
        }

        @Override
        public void close() {
            releaseAll();
        }
    }
}
