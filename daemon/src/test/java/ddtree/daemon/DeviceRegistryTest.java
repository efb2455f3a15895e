package ddtree.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import ddtree.ddlink.Json;
import ddtree.nbd.RawClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The registry through ddsetup, in-process: restore order, open devices, shared files, renames, the default. */
@Timeout(120)
class DeviceRegistryTest {
    @TempDir
    Path dir;

    @Test
    void aDeviceReloadedOntoALaterOneIsRestoredAfterIt() throws Exception {
        try (Daemon d = TestDaemons.start(dir, "r=ram:1M")) {
            DdsetupCli cli = new DdsetupCli(d);
            cli.ok("create", "x", "--table", "0 64 zero");
            cli.ok("create", "y", "--table", "0 64 zero");
            cli.ok("reload", "x", "--table", "0 32 linear y 0");
            assertThat(cli.ok("info", "x").out()).contains("Tables present:    LIVE & INACTIVE");
            cli.ok("resume", "x");
            cli.ok("export", "x");
        }
        try (Daemon d = TestDaemons.start(dir, "r=ram:1M")) {
            DdsetupCli cli = new DdsetupCli(d);
            assertThat(cli.ok("table").out()).isEqualTo("r: 0 2048 ram\nx: 0 32 linear y 0\ny: 0 64 zero\n");
            assertThat(cli.ok("deps").out()).isEqualTo("r: 0 dependencies\t:\nx: 1 dependencies\t: (y)\ny: 0 dependencies\t:\n");
            assertThat(d.server().connectionCount()).isZero();
            assertThat(cli.ok("--json", "info", "x").json().get(0).get("export").asText()).isEqualTo("x");
        }
    }

    @Test
    void aDeviceAClientHasOpenIsRemovedOnlyWithForce() throws Exception {
        try (Daemon d = TestDaemons.start(dir, "r=ram:1M")) {
            DdsetupCli cli = new DdsetupCli(d);
            try (RawClient c = new RawClient(d.address()).go("r", false)) {
                assertThat(TestDaemons.await(Duration.ofSeconds(5), () -> d.server().openCount(d.registry().device("r")) == 1)).isTrue();
                assertThat(cli.ok("info", "r").out()).contains("Open count:        1");
                DdsetupCli.Result r = cli.run("remove", "r");
                assertThat(r.code()).isEqualTo(1);
                assertThat(r.err()).isEqualTo("ddsetup: remove: device 'r' is open: 1 NBD connection (disconnect first, or use --force)\n");
                cli.ok("remove", "--force", "r");
                assertThat(cli.ok("ls").out()).isEqualTo("No devices found\n");
            }
        }
    }

    @Test
    void twoDevicesOnOneFileShareItAndItClosesWithTheLast() throws Exception {
        Path f = dir.resolve("shared.img");
        Files.write(f, new byte[1 << 20]);
        try (Daemon d = TestDaemons.start(dir, "r=ram:1M")) {
            DdsetupCli cli = new DdsetupCli(d);
            cli.ok("create", "lo", "--table", "0 1024 linear " + f + " 0");
            // Another spelling of the same path shares the open file.
            cli.ok("create", "hi", "--table", "0 1024 linear " + dir.resolve(".").resolve("shared.img") + " 1024");
            assertThat(d.registry().openFiles()).isEqualTo(1);
            cli.ok("remove", "lo");
            assertThat(d.registry().openFiles()).isEqualTo(1);
            cli.ok("reload", "hi", "--table", "0 1024 zero");
            assertThat(d.registry().openFiles()).as("the inactive table holds nothing of the file").isEqualTo(1);
            cli.ok("resume", "hi");
            assertThat(d.registry().openFiles()).isZero();
        }
    }

    @Test
    void aRenamedDeviceKeepsItsExportName() throws Exception {
        try (Daemon d = TestDaemons.start(dir, "r=ram:1M")) {
            DdsetupCli cli = new DdsetupCli(d);
            cli.ok("create", "old", "--table", "0 2048 ram");
            cli.ok("export", "old", "--as", "vm");
            TestDaemons.qemuIoOk(d.uri("vm"), "write -P 0x42 0 64k");
            JsonNode renamed = cli.ok("--json", "rename", "old", "new").json();
            assertThat(renamed.get("name").asText()).isEqualTo("new");
            assertThat(renamed.get("export").asText()).isEqualTo("vm");
            TestDaemons.qemuIoOk(d.uri("vm"), "read -P 0x42 0 64k");
            cli.ok("unexport", "new");
            assertThat(TestDaemons.qemuIo(d.uri("vm"), "read 0 4k").ok()).isFalse();
        }
        JsonNode saved = Json.MAPPER.readTree(dir.resolve("state/devices.json").toFile());
        assertThat(saved.get("devices")).extracting(n -> n.get("name").asText()).containsExactly("r", "new");
    }

    @Test
    void theEmbeddedDefaultIsOnlyForAFirstStart() throws Exception {
        Path state = dir.resolve("var");
        DaemonConfig config = DaemonConfig.loopback(state, 0, List.of(), List.of());
        try (Daemon d = new Daemon(config)) {
            d.start();
            DdsetupCli cli = new DdsetupCli(d);
            assertThat(cli.ok("table").out()).isEqualTo("disk0: 0 2097152 linear " + state.toAbsolutePath().resolve("disk0.img") + " 0\n");
            cli.ok("create", "extra", "--table", "0 8 zero");
            cli.ok("remove", "disk0");
        }
        try (Daemon d = new Daemon(config)) {
            d.start();
            assertThat(new DdsetupCli(d).ok("ls").out()).isEqualTo("extra\t(4.0 KiB)\n");
            assertThat(d.served()).extracting(Daemon.Served::name).containsExactly("extra");
        }
    }

    @Test
    void resumingALowerDeviceGetsThroughWhileAnUpperOneWaitsToSwap() throws Exception {
        try (Daemon d = TestDaemons.start(dir, "y=ram:4M")) {
            DdsetupCli cli = new DdsetupCli(d);
            cli.ok("create", "x", "--table", "0 8192 linear y 0");
            cli.ok("export", "x");
            cli.ok("suspend", "y");
            // A write through x is now held in y.
            Process writer = Exec.start(null, dir.resolve("qemu-io.log"), List.of(Tools.require("qemu-io"), "-f", "raw",
                    d.uri("x"), "-c", "write -P 0x61 0 64k"));
            try {
                Thread.sleep(500);
                cli.ok("reload", "x", "--table", "0 4096 linear y 0\n4096 4096 linear y 4096");
                var swap = java.util.concurrent.CompletableFuture.supplyAsync(() -> cli.run("resume", "x"));
                Thread.sleep(300);
                assertThat(swap).as("x cannot drain while y holds its write").isNotDone();
                // Meanwhile the daemon answers: nothing waits on x's drain but its own resume.
                assertThat(cli.ok("info", "x").out()).contains("Tables present:    LIVE & INACTIVE");
                cli.ok("ls");
                cli.ok("resume", "y");
                assertThat(swap.get(20, java.util.concurrent.TimeUnit.SECONDS).code()).isZero();
                assertThat(writer.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
                assertThat(writer.exitValue()).as(Files.readString(dir.resolve("qemu-io.log"))).isZero();
            } finally {
                Exec.kill(writer);
            }
            TestDaemons.qemuIoOk(d.uri("x"), "read -P 0x61 0 64k");
            assertThat(cli.ok("table", "x").out()).isEqualTo("0 4096 linear y 0\n4096 4096 linear y 4096\n");
        }
    }

    @Test
    void theControlSocketIsPrivateAndGoneAfterStop() throws Exception {
        Path socket;
        try (Daemon d = TestDaemons.start(dir, "r=ram:1M")) {
            socket = d.controlSocket();
            assertThat(socket).isEqualTo(dir.resolve("state/control.sock"));
            assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)))
                    .isEqualTo("rw-------");
        }
        assertThat(socket).doesNotExist();
        DdsetupCli.Result r = new DdsetupCli(socket).run("ls");
        assertThat(r.code()).isEqualTo(3);
        assertThat(r.err()).startsWith("ddsetup: cannot reach the daemon at " + socket + ": no socket there");
    }
}
