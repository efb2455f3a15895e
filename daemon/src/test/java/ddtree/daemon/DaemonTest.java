package ddtree.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The daemon in-process: devices, defaults, the state lock, and failures that leave nothing open. */
class DaemonTest {
    @TempDir
    Path dir;

    @Test
    void theEmbeddedDefaultIsASparseGibibyteFile() throws Exception {
        Path state = dir.resolve("var");
        DaemonConfig config = DaemonConfig.loopback(state, 0, List.of(), List.of());
        try (Daemon d = new Daemon(config)) {
            d.start();
            assertThat(d.served()).singleElement().satisfies(s -> {
                assertThat(s.name()).isEqualTo("disk0");
                assertThat(s.device().size()).isEqualTo(1L << 30);
            });
            Path img = state.resolve("disk0.img");
            assertThat(img).exists();
            assertThat(Files.size(img)).isEqualTo(1L << 30);
            assertThat(d.port()).isPositive();
            assertThat(d.uri("disk0")).isEqualTo("nbd://127.0.0.1:" + d.port() + "/disk0");
        }
    }

    @Test
    void anExistingFileKeepsItsSize() throws Exception {
        Path img = dir.resolve("old.img");
        Files.write(img, new byte[3 << 20]);
        try (Daemon d = TestDaemons.start(dir, "old=file:" + img + ":1G")) {
            assertThat(d.served().getFirst().device().size()).isEqualTo(3 << 20);
        }
        assertThat(Files.size(img)).isEqualTo(3 << 20);
    }

    @Test
    void aStateDirectoryServesOneDaemonAtATime() throws Exception {
        try (Daemon first = TestDaemons.start(dir, "r=ram:1M")) {
            assertThatThrownBy(() -> TestDaemons.start(dir, "r=ram:1M"))
                    .isInstanceOf(IOException.class)
                    .hasMessageContaining("is in use by another ddtree");
            assertThat(first.server().connectionCount()).isZero();
        }
        // Released on close.
        TestDaemons.start(dir, "r=ram:1M").close();
    }

    @Test
    void anAddressInUseIsReportedAndNothingStaysOpen() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            int port = taken.getLocalPort();
            DaemonConfig config = DaemonConfig.loopback(dir.resolve("state"), port,
                    List.of(DeviceSpec.parse("f=file:" + dir.resolve("f.img") + ":1M")), List.of());
            Daemon d = new Daemon(config);
            assertThatThrownBy(d::start)
                    .isInstanceOf(IOException.class)
                    .hasMessage("cannot listen on 127.0.0.1:" + port + ": Address already in use");
            // The lock and the device were released: another daemon starts on the same state.
            try (Daemon again = new Daemon(DaemonConfig.loopback(dir.resolve("state"), 0, config.devices(), List.of()))) {
                again.start();
            }
        }
    }

    @Test
    void theBannerSaysHowToConnect() throws Exception {
        try (Daemon d = TestDaemons.start(dir, List.of("b"), "a=ram:16M", "b=file:" + dir.resolve("b.img") + ":1G")) {
            StringWriter out = new StringWriter();
            ServeCommand.printBanner(d, new PrintWriter(out));
            String uri = "nbd://127.0.0.1:" + d.port() + "/a";
            assertThat(out.toString().lines().toList()).containsSubsequence(
                    "ddtree serving on 127.0.0.1:" + d.port() + " (state " + dir.resolve("state") + ")",
                    "  a  16.0 MiB  ram",
                    "  b  1.0 GiB   file " + dir.resolve("b.img") + "  read-only",
                    "  nbdinfo --list nbd://127.0.0.1:" + d.port(),
                    "  nbdinfo " + uri,
                    "  qemu-img info " + uri,
                    "  nbdfuse DIR " + uri);
        }
    }

    @Test
    void closeTwiceIsHarmless() throws Exception {
        Daemon d = TestDaemons.start(dir, "r=ram:1M");
        d.close();
        d.close();
    }
}
