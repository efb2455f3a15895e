package ddtree.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import ddtree.nbd.NbdProtocol;
import ddtree.nbd.RawClient;
import java.io.IOException;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Clients that break off or send garbage: the server drops them, its data stays as it was, it
 * keeps serving the others, and it holds on to no connection or buffer afterwards.
 */
@Timeout(120)
class MisbehavingClientsTest {
    static final int EINVAL = 22;
    static final int ENOSPC = 28;
    static final Duration CLOSE_WAIT = Duration.ofSeconds(10);

    @TempDir
    Path dir;

    Daemon daemon;

    @BeforeEach
    void start() throws Exception {
        daemon = TestDaemons.start(dir, "disk=file:" + dir.resolve("disk.img") + ":4M", "ram=ram:4M", "big=ram:64M");
        try (RawClient c = new RawClient(daemon.address()).go("disk", false)) {
            assertThat(c.write(0, filled(2 << 20, 0x11))).isZero();
            c.disconnect();
        }
    }

    @AfterEach
    void stop() throws Exception {
        if (daemon != null) {
            daemon.close();
        }
    }

    static byte[] filled(int n, int value) {
        byte[] b = new byte[n];
        Arrays.fill(b, (byte) value);
        return b;
    }

    /** The server holds no connection and no buffer, and serves a well-behaved client. */
    private void assertHealthy() throws Exception {
        assertThat(TestDaemons.await(CLOSE_WAIT, () -> daemon.server().connectionCount() == 0))
                .as("connections left open: " + daemon.server().connectionCount()).isTrue();
        assertThat(daemon.buffers().awaitIdle(10, java.util.concurrent.TimeUnit.SECONDS))
                .as("buffers still lent: " + daemon.buffers().lentBytes()).isTrue();
        try (RawClient c = new RawClient(daemon.address()).go("disk", false)) {
            RawClient.Reply r = c.read(0, 2 << 20);
            assertThat(r.errno()).isZero();
            assertThat(Arrays.mismatch(r.data(), filled(2 << 20, 0x11))).as("first changed byte").isEqualTo(-1);
            c.disconnect();
        }
    }

    @Test
    void writeCutShortLeavesDataUntouched() throws Exception {
        try (RawClient c = new RawClient(daemon.address()).exportName("disk")) {
            c.request(0, NbdProtocol.CMD_WRITE, 7, 0, 1 << 20, null);
            c.out.write(filled(100, 0xee));
            c.out.flush();
        }
        assertHealthy();
    }

    @Test
    void writeCutShortWhileOthersAreServed() throws Exception {
        // A second client is in the middle of its session while the first one breaks off.
        try (RawClient good = new RawClient(daemon.address()).go("ram", false)) {
            assertThat(good.write(4096, filled(8192, 0x55))).isZero();
            try (RawClient bad = new RawClient(daemon.address()).go("disk", false)) {
                bad.request(0, NbdProtocol.CMD_WRITE, 1, 1 << 20, 1 << 20, null);
                bad.out.write(filled(100, 0xee));
                bad.out.flush();
            }
            RawClient.Reply r = good.read(4096, 8192);
            assertThat(r.errno()).isZero();
            assertThat(r.data()).isEqualTo(filled(8192, 0x55));
            good.disconnect();
        }
        assertHealthy();
    }

    @Test
    void garbageInsteadOfARequestClosesTheConnection() throws Exception {
        try (RawClient c = new RawClient(daemon.address()).go("disk", false)) {
            byte[] junk = new byte[28];
            new Random(5).nextBytes(junk);
            junk[0] = 0x13; // surely not the request magic
            c.out.write(junk);
            c.out.flush();
            assertThat(c.awaitServerClose(CLOSE_WAIT)).as("server closes on a bad magic").isTrue();
        }
        assertHealthy();
    }

    @Test
    void garbageDuringTheHandshakeClosesTheConnection() throws Exception {
        try (RawClient c = new RawClient(daemon.address())) {
            c.in.readFully(new byte[18]); // the greeting
            byte[] junk = new byte[256];
            new Random(6).nextBytes(junk);
            c.out.write(junk);
            c.out.flush();
            assertThat(c.awaitServerClose(CLOSE_WAIT)).as("server closes on a garbage handshake").isTrue();
        }
        assertHealthy();
    }

    @Test
    void clientsThatLeaveDuringTheHandshake() throws Exception {
        // Leaves before reading anything.
        new Socket(daemon.address().getAddress(), daemon.address().getPort()).close();
        // Leaves after the greeting.
        try (RawClient c = new RawClient(daemon.address())) {
            c.in.readFully(new byte[18]);
        }
        // Leaves in the middle of an option.
        try (RawClient c = new RawClient(daemon.address()).greet()) {
            c.out.writeLong(NbdProtocol.IHAVEOPT);
            c.out.writeInt(NbdProtocol.OPT_GO);
            c.out.writeInt(100);
            c.out.write(new byte[10]);
            c.out.flush();
        }
        // Leaves in the middle of a request header.
        try (RawClient c = new RawClient(daemon.address()).go("disk", false)) {
            c.out.writeInt(NbdProtocol.REQUEST_MAGIC);
            c.out.writeShort(0);
            c.out.flush();
        }
        assertHealthy();
    }

    @Test
    void aHugeOptionLengthIsNotBelieved() throws Exception {
        try (RawClient c = new RawClient(daemon.address()).greet()) {
            c.out.writeLong(NbdProtocol.IHAVEOPT);
            c.out.writeInt(NbdProtocol.OPT_GO);
            c.out.writeInt(Integer.MAX_VALUE);
            c.out.write(new byte[64]);
            c.out.flush();
            // The server may refuse the option or drop the client; it must not wait for 2 GiB.
            c.awaitServerClose(Duration.ofSeconds(2));
        } catch (IOException e) {
            // a reset is fine too
        }
        assertHealthy();
    }

    @Test
    void requestsPastTheEndGetErrorsAndTheConnectionGoesOn() throws Exception {
        try (RawClient c = new RawClient(daemon.address()).go("disk", false)) {
            long size = c.exportSize;
            assertThat(size).isEqualTo(4 << 20);
            assertThat(c.read(size - 512, 1024).errno()).as("READ past the end").isEqualTo(EINVAL);
            assertThat(c.write(size - 512, new byte[1024])).as("WRITE past the end").isEqualTo(ENOSPC);
            assertThat(c.command(NbdProtocol.CMD_TRIM, size, 4096)).as("TRIM past the end").isEqualTo(ENOSPC);
            assertThat(c.command(NbdProtocol.CMD_WRITE_ZEROES, size - 1, 2)).as("WRITE_ZEROES past the end").isEqualTo(ENOSPC);
            assertThat(c.command(NbdProtocol.CMD_FLUSH, 0, 512)).as("FLUSH with a length").isEqualTo(EINVAL);
            assertThat(c.command(99, 0, 512)).as("unknown command").isEqualTo(EINVAL);
            assertThat(c.read(Long.MAX_VALUE - 10, 4096).errno()).as("READ at an offset that overflows").isEqualTo(EINVAL);
            // And the connection still works, the data still as it was.
            RawClient.Reply ok = c.read(0, 4096);
            assertThat(ok.errno()).isZero();
            assertThat(ok.data()).isEqualTo(filled(4096, 0x11));
            assertThat(c.read(size - 512, 512).errno()).isZero();
            c.disconnect();
        }
        assertHealthy();
    }

    @Test
    void aWriteOverTheMaximumPayloadIsRefusedAndSkipped() throws Exception {
        try (RawClient c = new RawClient(daemon.address()).go("big", false)) {
            // 33 MiB: over the 32 MiB the export advertises. The server reads and drops the
            // payload, answers EINVAL, and the stream stays in step.
            int len = 33 << 20;
            c.request(0, NbdProtocol.CMD_WRITE, 77, 0, len, null);
            byte[] chunk = filled(1 << 20, 0x66);
            for (int i = 0; i < 33; i++) {
                c.out.write(chunk);
            }
            c.out.flush();
            assertThat(c.simpleReply()).containsExactly(EINVAL, 77);
            RawClient.Reply after = c.read(0, 4096);
            assertThat(after.errno()).isZero();
            assertThat(after.data()).as("nothing of the refused write landed").isEqualTo(new byte[4096]);
            c.disconnect();
        }
        assertHealthy();
    }

    @Test
    void tooManyConnectionsAreRefusedNotQueued() throws Exception {
        try (Daemon small = new Daemon(DaemonConfig.of(dir.resolve("small"), new ListenAddress("127.0.0.1", 0),
                java.util.List.of(DeviceSpec.ram("r", 1 << 20)), java.util.List.of(), DaemonConfig.DEFAULT_BUFFER_BUDGET, 2))) {
            small.start();
            try (RawClient a = new RawClient(small.address()).go("r", false);
                    RawClient b = new RawClient(small.address()).go("r", false)) {
                assertThat(TestDaemons.await(CLOSE_WAIT, () -> small.server().connectionCount() == 2)).isTrue();
                try (RawClient c = new RawClient(small.address())) {
                    assertThat(c.awaitServerClose(CLOSE_WAIT)).as("third connection is closed").isTrue();
                }
                assertThat(a.read(0, 512).errno()).isZero();
                assertThat(b.read(0, 512).errno()).isZero();
            }
        }
        assertHealthy();
    }
}
