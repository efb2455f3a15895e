package ddtree.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import ddtree.ddlink.DdlinkClient;
import ddtree.ddlink.Event;
import ddtree.ddlink.Subscription;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The nbd target: a device on one daemon whose lower device is (part of) an export of a second
 * daemon. The second daemon is stopped and started again on the same port while a client of the
 * first writes, once with qemu-io and once under fio with verification; the target reconnects, the
 * client sees no error, every write lands where the offset puts it, and subscribers hear of the
 * drop and the return.
 */
@Timeout(180)
class NbdTargetRestartTest {
    @TempDir
    Path dir;

    @Test
    void writesBeforeAndAfterARestartOfTheLowerServerAllLand() throws Exception {
        Path lowerState = dir.resolve("lower");
        String lowerDevice = "remote=file:" + dir.resolve("remote.img") + ":32M";
        Daemon lower = TestDaemons.start(lowerState, lowerDevice);
        int port = lower.port();
        try (Daemon upper = TestDaemons.start(dir.resolve("upper"), "r=ram:1M")) {
            DdsetupCli cli = new DdsetupCli(upper);
            List<Event> events = new CopyOnWriteArrayList<>();
            try (Subscription sub = DdlinkClient.subscribe(upper.controlSocket(), "test", events::add)) {
                // Half of the remote export, from 4 MiB on.
                cli.ok("create", "net", "--table", "0 32768 nbd 127.0.0.1:" + port + " remote 8192");
                cli.ok("export", "net");
                TestDaemons.qemuIoOk(upper.uri("net"), "write -P 0x21 0 1M", "write -P 0x22 15M 1M");
                lower.close();
                Thread.sleep(500);
                // A client of the upper daemon while the lower one is away waits, then goes on.
                Process waiting = Exec.start(null, dir.resolve("qemu-io.log"), List.of(Tools.require("qemu-io"), "-f", "raw",
                        upper.uri("net"), "-c", "write -P 0x23 2M 1M", "-c", "read -P 0x21 0 1M"));
                try {
                    Thread.sleep(1000);
                    lower = TestDaemons.start(lowerState, port, lowerDevice);
                    assertThat(waiting.waitFor(60, TimeUnit.SECONDS)).isTrue();
                    String log = Files.readString(dir.resolve("qemu-io.log"));
                    assertThat(waiting.exitValue()).as(log).isZero();
                    assertThat(log).doesNotContain("Pattern verification failed").doesNotContainIgnoringCase("error");
                } finally {
                    Exec.kill(waiting);
                }
                TestDaemons.qemuIoOk(upper.uri("net"), "read -P 0x21 0 1M", "read -P 0x23 2M 1M", "read -P 0x22 15M 1M");
                TestDaemons.qemuIoOk(lower.uri("remote"), "read -P 0x21 4M 1M", "read -P 0x23 6M 1M", "read -P 0x22 19M 1M",
                        "read -P 0 0 4M");
                boolean heard = TestDaemons.await(Duration.ofSeconds(10),
                        () -> events.stream().filter(e -> e.event().equals("target") && e.device().equals("net")).count() >= 2);
                assertThat(heard).as("target events: " + events).isTrue();
                assertThat(events).filteredOn(e -> e.event().equals("target"))
                        .allSatisfy(e -> assertThat(e.detail()).startsWith("nbd 127.0.0.1:" + port + "/remote: "));
            }
        } finally {
            lower.close();
        }
    }

    @Test
    void fioGoesOnAcrossARestartOfTheLowerServer() throws Exception {
        String fio = Tools.require("fio");
        Path lowerState = dir.resolve("lower");
        String lowerDevice = "remote=file:" + dir.resolve("remote.img") + ":32M";
        Daemon lower = TestDaemons.start(lowerState, lowerDevice);
        int port = lower.port();
        try (Daemon upper = TestDaemons.start(dir.resolve("upper"), "r=ram:1M")) {
            DdsetupCli cli = new DdsetupCli(upper);
            List<Event> events = new CopyOnWriteArrayList<>();
            try (Subscription sub = DdlinkClient.subscribe(upper.controlSocket(), "test", events::add)) {
                cli.ok("create", "net", "--table", "0 65536 nbd 127.0.0.1:" + port + " remote");
                cli.ok("export", "net");
                assertThat(cli.ok("table", "net").out()).isEqualTo("0 65536 nbd 127.0.0.1:" + port + " remote\n");
                TestDaemons.qemuIoOk(upper.uri("net"), "write -P 0x6b 1M 1M", "read -P 0x6b 1M 1M");
                TestDaemons.qemuIoOk(lower.uri("remote"), "read -P 0x6b 1M 1M");

                Path log = dir.resolve("fio.json");
                Process p = Exec.start(null, log, List.of(fio, "--name=v", "--ioengine=nbd", "--uri=" + upper.uri("net"),
                        "--rw=randwrite", "--bs=4k", "--iodepth=8", "--size=8M", "--offset=8M", "--rate=2m",
                        "--verify=crc32c", "--do_verify=1", "--verify_fatal=1", "--runtime=90", "--output-format=json"));
                try {
                    Thread.sleep(1500);
                    assertThat(p.isAlive()).as("fio still writing when the lower daemon stops").isTrue();
                    lower.close();
                    Thread.sleep(1000);
                    lower = TestDaemons.start(lowerState, port, lowerDevice);
                    assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("fio finished").isTrue();
                } finally {
                    Exec.kill(p);
                }
                String out = Files.readString(log);
                assertThat(p.exitValue()).as(out).isZero();
                String json = out.substring(Math.max(0, out.indexOf('{')));
                assertThat(FioTest.first(json, "\"error\"\\s*:\\s*(\\d+)")).as(out).isZero();
                long written = FioTest.first(FioTest.section(json, "write"), "\"io_bytes\"\\s*:\\s*(\\d+)");
                long verified = FioTest.first(FioTest.section(json, "read"), "\"io_bytes\"\\s*:\\s*(\\d+)");
                assertThat(verified).as("every block written was read back and verified").isEqualTo(written).isPositive();
                // What went through the upper daemon landed on the lower one, before and after the restart.
                TestDaemons.qemuIoOk(lower.uri("remote"), "read -P 0x6b 1M 1M");
                boolean heard = TestDaemons.await(Duration.ofSeconds(10),
                        () -> events.stream().filter(e -> e.event().equals("target") && e.device().equals("net")).count() >= 2);
                assertThat(heard).as("target events: " + events).isTrue();
                assertThat(events).filteredOn(e -> e.event().equals("target"))
                        .allSatisfy(e -> assertThat(e.detail()).startsWith("nbd 127.0.0.1:" + port + "/remote: "));
            }
        } finally {
            lower.close();
        }
    }
}
