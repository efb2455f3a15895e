package ddtree.nbd.client;

import static org.assertj.core.api.Assertions.assertThat;

import ddtree.block.DeviceIo;
import ddtree.block.Errno;
import ddtree.block.device.RamDevice;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Writers of small and split requests on several threads while the server restarts three times. */
@Timeout(180)
class NbdClientStressTest {
    @Test
    void concurrentWritersSurviveRepeatedServerRestarts() throws Exception {
        int threads = 8;
        int perThread = 60;
        int region = 2 << 20;
        List<String> events = Collections.synchronizedList(new ArrayList<>());
        try (RamDevice ram = new RamDevice("ram", (long) threads * region);
                RemoteServer server = new RemoteServer().export("disk", ram, false)) {
            int port = server.start(0);
            NbdClientDevice client = NbdClientDevice.connect("stress", "127.0.0.1", port, "disk",
                    ClientOptions.defaults().withMaxInflight(16).withMaxRequestBytes(64 << 10)
                            .withReconnect(Duration.ofMillis(10), Duration.ofMillis(50)).withEvents(events::add));
            // Requests wait out the restarts, so they get longer than DeviceIo's default.
            try (DeviceIo io = new DeviceIo(client, Duration.ofSeconds(60))) {
                List<Throwable> failures = Collections.synchronizedList(new ArrayList<>());
                List<Thread> writers = new ArrayList<>();
                java.util.concurrent.atomic.AtomicBoolean restartsDone = new java.util.concurrent.atomic.AtomicBoolean();
                for (int t = 0; t < threads; t++) {
                    int id = t;
                    writers.add(Thread.ofPlatform().start(() -> {
                        try {
                            // Until the restarts are over, and at least perThread requests; at most 20000.
                            for (int i = 0; i < 20_000 && (i < perThread || !restartsDone.get()); i++) {
                                // Each writer rewrites its own region, so the last write of each range wins.
                                int len = (i % 4 == 0) ? 300_000 : 5000 + i;
                                long offset = (long) id * region + (i * 7919L) % (region - len);
                                byte[] data = DeviceIo.randomBytes(len, id * 1000L + i);
                                assertThat(Errno.name(io.write(offset, data))).isEqualTo("OK");
                                assertThat(io.read(offset, len)).isEqualTo(data);
                            }
                        } catch (Throwable e) {
                            failures.add(e);
                        }
                    }));
                }
                for (int restart = 0; restart < 3; restart++) {
                    Thread.sleep(150);
                    server.stop();
                    Thread.sleep(100);
                    server.start(port);
                }
                restartsDone.set(true);
                for (Thread w : writers) {
                    assertThat(w.join(Duration.ofSeconds(120))).isTrue();
                }
                assertThat(failures).isEmpty();
                assertThat(client.state()).isEqualTo(ConnectionState.CONNECTED);
                assertThat(client.reconnects()).isEqualTo(3);
            } finally {
                client.close();
            }
        }
        synchronized (events) {
            assertThat(events).anySatisfy(e -> assertThat(e).startsWith("reconnected"));
        }
    }
}
