package ddtree.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * bin/ddtree as a user runs it: from another directory, stopped with SIGTERM, and with bad
 * arguments. Runs after package (failsafe), so the launcher finds the project built.
 */
@Timeout(300)
class LauncherIT {
    static final Duration START = Launched.START;
    static Path launcher;

    @TempDir
    Path dir;

    @BeforeAll
    static void findLauncher() {
        launcher = Launched.bin("ddtree");
    }

    /** bin/ddtree serve in {@code cwd}; closing sends SIGKILL unless stopped first. */
    private Launched serve(Path cwd, String... args) throws Exception {
        return new Launched(cwd, Files.createTempFile(dir, "serve-", ".log"), Launched.freePort(), List.of(args));
    }

    @Test
    void servesARamDeviceAndStopsCleanlyOnSigterm() throws Exception {
        String nbdinfo = Tools.require("nbdinfo");
        Path state = dir.resolve("state");
        Path cwd = Files.createDirectories(dir.resolve("elsewhere"));
        try (Launched s = serve(cwd, "--state", state.toString(), "--device", "r=ram:16M",
                "--device", "f=file:rel.img:4M")) {
            assertThat(s.output()).contains("ddtree serving on 127.0.0.1:" + s.port + " (state " + state + ")")
                    .contains("  nbdinfo " + s.uri("r"))
                    .contains("  qemu-img info " + s.uri("r"))
                    .contains("  nbdfuse DIR " + s.uri("r"));
            Exec.Result size = Exec.run(TestDaemons.CLIENT_TIMEOUT, nbdinfo, "--size", s.uri("r")).assertOk();
            assertThat(size.out().strip()).isEqualTo("16777216");
            // A relative file path is relative to the directory the daemon was started in.
            assertThat(Files.size(cwd.resolve("rel.img"))).isEqualTo(4 << 20);
            assertThat(s.stop()).as(s.output()).isZero();
            assertThat(s.output()).contains("ddtree stopped");
        }
    }

    @Test
    void theEmbeddedDefaultKeepsItsDataAcrossRestarts() throws Exception {
        String qemuIo = Tools.require("qemu-io");
        String nbdinfo = Tools.require("nbdinfo");
        Path cwd = Files.createDirectories(dir.resolve("home"));
        try (Launched s = serve(cwd)) {
            Path img = cwd.resolve("var/disk0.img");
            assertThat(img).exists();
            assertThat(Files.size(img)).isEqualTo(1L << 30);
            assertThat(s.output()).contains("disk0  1.0 GiB  file ./var/disk0.img");
            assertThat(Exec.run(TestDaemons.CLIENT_TIMEOUT, nbdinfo, "--size", s.uri("disk0")).assertOk().out().strip())
                    .isEqualTo(String.valueOf(1L << 30));
            // disk0 is also the default export.
            assertThat(Exec.run(TestDaemons.CLIENT_TIMEOUT, nbdinfo, "--size", s.uri("")).assertOk().out().strip())
                    .isEqualTo(String.valueOf(1L << 30));
            Exec.run(TestDaemons.CLIENT_TIMEOUT, qemuIo, "-f", "raw", s.uri("disk0"),
                    "-c", "write -P 0x3c 1M 256k").assertOk();
            assertThat(s.stop()).isZero();
        }
        try (Launched s = serve(cwd)) {
            Exec.Result r = Exec.run(TestDaemons.CLIENT_TIMEOUT, qemuIo, "-f", "raw", s.uri("disk0"),
                    "-c", "read -P 0x3c 1M 256k", "-c", "read -P 0 0 1M").assertOk();
            assertThat(r.all()).doesNotContain("Pattern verification failed");
            assertThat(s.stop()).isZero();
        }
    }

    @Test
    void sigtermWhileAClientWritesFinishesCleanly() throws Exception {
        String fio = Tools.require("fio");
        try (Launched s = serve(dir, "--state", dir.resolve("state").toString(),
                "--device", "f=file:" + dir.resolve("f.img") + ":64M")) {
            Process writer = Exec.start(null, dir.resolve("fio.log"), List.of(fio, "--name=w", "--ioengine=nbd",
                    "--uri=" + s.uri("f"), "--rw=randwrite", "--bs=64k", "--iodepth=16", "--size=64M",
                    "--time_based", "--runtime=20"));
            try {
                Thread.sleep(1500);
                assertThat(s.stop()).as(s.output()).isZero();
                assertThat(s.output()).contains("ddtree stopped");
                assertThat(writer.waitFor(30, TimeUnit.SECONDS)).as("the client noticed the server went away").isTrue();
            } finally {
                Exec.kill(writer);
            }
        }
    }

    @Test
    void anAddressInUseExits1() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            int port = taken.getLocalPort();
            Exec.Result r = Exec.run(START, dir, Map.of(), List.of(launcher.toString(), "serve",
                    "--state", dir.resolve("state").toString(), "--listen", "127.0.0.1:" + port,
                    "--device", "r=ram:1M"));
            assertThat(r.exitCode()).as(r.describe()).isEqualTo(1);
            assertThat(r.err()).contains("cannot listen on 127.0.0.1:" + port + ": Address already in use");
        }
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "--device x=ram:12Q|size '12Q': unknown suffix 'Q' (use K, M, G or T)",
        "--device disk1=file:|--device disk1=file:: missing path",
        "--device a=ram:1M --device a=ram:2M|device name 'a' is given twice",
        "--device a=ram:1M --read-only b|--read-only b: no such device",
        "--listen 127.0.0.1|--listen 127.0.0.1: expected HOST:PORT",
        "--listen 127.0.0.1:99999|port 99999 is not between 0 and 65535",
        "--device d=file:no/such/dir/x.img|does not exist; give a size to create it",
        "--buffer-budget 1M|--buffer-budget 1.0 MiB is too small",
        "--device d=ram:1M --frob|Unknown option: '--frob'",
    })
    void badArgumentsExit2(String args, String message) {
        List<String> cmd = new ArrayList<>(List.of(launcher.toString(), "serve", "--state", dir.resolve("state").toString()));
        cmd.addAll(List.of(args.split(" ")));
        Exec.Result r = Exec.run(START, dir, Map.of(), cmd);
        assertThat(r.exitCode()).as(r.describe()).isEqualTo(2);
        assertThat(r.err()).as(r.describe()).contains(message);
        assertThat(r.out()).as("nothing served").doesNotContain("serving on");
    }

    @Test
    void ipv6Loopback() throws Exception {
        String nbdinfo = Tools.require("nbdinfo");
        boolean v6;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getByName("::1"))) {
            v6 = true;
        } catch (IOException e) {
            v6 = false;
        }
        assumeTrue(v6, "skipped: this machine has no IPv6 loopback");
        int port = Launched.freePort();
        Path log = dir.resolve("v6.log");
        Process p = Exec.start(dir, log, List.of(launcher.toString(), "serve", "--state", dir.resolve("state").toString(),
                "--listen", "[::1]:" + port, "--device", "r=ram:2M"));
        try {
            assertThat(TestDaemons.await(START, () -> read(log).contains("  nbdfuse DIR ") || !p.isAlive())).isTrue();
            assertThat(read(log)).contains("ddtree serving on [::1]:" + port);
            Exec.Result r = Exec.run(TestDaemons.CLIENT_TIMEOUT, nbdinfo, "--size", "nbd://[::1]:" + port + "/r").assertOk();
            assertThat(r.out().strip()).isEqualTo(String.valueOf(2 << 20));
            p.destroy();
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).isZero();
        } finally {
            Exec.kill(p);
        }
    }

    static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            return "";
        }
    }
}
