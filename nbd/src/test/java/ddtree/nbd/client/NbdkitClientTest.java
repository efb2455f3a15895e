package ddtree.nbd.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ddtree.block.Bio;
import ddtree.block.DeviceIo;
import ddtree.block.Errno;
import ddtree.block.Extents;
import java.io.File;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The client against another implementation of the protocol: nbdkit's memory plugin. */
@Timeout(120)
class NbdkitClientTest {
    static final long SIZE = 64L << 20;

    private Process nbdkit;
    private NbdClientDevice client;
    private DeviceIo io;

    @AfterEach
    void tearDown() throws InterruptedException {
        if (client != null) {
            client.close();
        }
        if (io != null) {
            io.close();
        }
        if (nbdkit != null) {
            nbdkit.destroy();
            if (!nbdkit.waitFor(10, TimeUnit.SECONDS)) {
                nbdkit.destroyForcibly();
            }
        }
    }

    private static boolean installed() {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (new File(dir, "nbdkit").canExecute()) {
                return true;
            }
        }
        return false;
    }

    /**
     * Starts nbdkit on a free loopback port; {@code args} starting with "--" go before the plugin,
     * the others (filter and plugin parameters) after it. Returns the port.
     */
    private int startNbdkit(String... args) throws Exception {
        assumeTrue(installed(), "nbdkit is not installed (Debian package nbdkit); skipping the interoperability tests");
        int port;
        try (ServerSocket probe = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = probe.getLocalPort();
        }
        List<String> cmd = new ArrayList<>(List.of("nbdkit", "--foreground", "--exit-with-parent", "-i", "127.0.0.1",
                "-p", Integer.toString(port)));
        List<String> after = new ArrayList<>(List.of("memory", Long.toString(SIZE)));
        for (String a : args) {
            (a.startsWith("--") ? cmd : after).add(a);
        }
        cmd.addAll(after);
        nbdkit = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < until) {
            assertThat(nbdkit.isAlive()).as("nbdkit exited with %s", nbdkit.isAlive() ? "" : nbdkit.exitValue()).isTrue();
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                return port;
            } catch (IOException notYet) {
                Thread.sleep(20);
            }
        }
        throw new AssertionError("nbdkit did not listen on port " + port + " within 20 s");
    }

    private void connect(int port, ClientOptions options) throws IOException {
        client = NbdClientDevice.connect("kit", "127.0.0.1", port, "", options);
        io = new DeviceIo(client);
    }

    @Test
    void roundTripsTrimZeroesAndExtentsWithStructuredReplies() throws Exception {
        connect(startNbdkit(), ClientOptions.defaults());
        assertThat(client.size()).isEqualTo(SIZE);
        assertThat(client.capabilities().extents()).isTrue();
        assertThat(client.capabilities().discard()).isTrue();
        assertThat(client.capabilities().writeZeroes()).isTrue();

        byte[] data = DeviceIo.randomBytes(3 << 20, 11);
        assertThat(io.write(1000, data)).isEqualTo(Errno.OK);
        assertThat(io.read(1000, data.length)).isEqualTo(data);
        assertThat(io.flush()).isEqualTo(Errno.OK);

        assertThat(io.writeZeroes(1 << 20, 1 << 20, Bio.NO_HOLE)).isEqualTo(Errno.OK);
        assertThat(io.discard(2 << 20, 1 << 20)).isEqualTo(Errno.OK);
        byte[] back = io.read(0, 5 << 20);
        for (int i = 0; i < back.length; i++) {
            byte want = i >= 1000 && i < 1000 + data.length && (i < 1 << 20 || i >= 3 << 20) ? data[i - 1000] : 0;
            if (back[i] != want) {
                throw new AssertionError("byte " + i + " is " + back[i] + ", want " + want);
            }
        }

        Extents e = new Extents(256);
        client.extents(0, SIZE, e);
        assertThat(e.totalLength()).isEqualTo(SIZE);
        assertThat(e.flags(0)).isZero(); // data from offset 0
        assertThat(e.flags(e.count() - 1)).isEqualTo(Extents.HOLE | Extents.ZERO); // never written
    }

    @Test
    void simpleRepliesWhenTheServerOffersNoStructuredReplies() throws Exception {
        connect(startNbdkit("--no-sr"), ClientOptions.defaults());
        assertThat(client.capabilities().extents()).isFalse();
        byte[] data = DeviceIo.randomBytes(100_000, 5);
        assertThat(io.write(77, data)).isEqualTo(Errno.OK);
        assertThat(io.read(77, data.length)).isEqualTo(data);
        Extents e = new Extents(4);
        client.extents(0, 4096, e);
        assertThat(e.count()).isEqualTo(1);
        assertThat(e.flags(0)).as("without base:allocation everything is data").isZero();
    }

    @Test
    void splitsAtTheMaximumPayloadTheServerAdvertises() throws Exception {
        connect(startNbdkit("--filter=blocksize-policy", "blocksize-maximum=1M", "blocksize-error-policy=error"),
                ClientOptions.defaults());
        assertThat(client.splitBytes()).isEqualTo(1 << 20);
        byte[] data = DeviceIo.randomBytes(8 << 20, 9);
        assertThat(io.write(512, data)).isEqualTo(Errno.OK);
        assertThat(io.read(512, data.length)).isEqualTo(data);
    }
}
