package ddtree.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * fio writes and verifies through a device while ddsetup suspends it, reloads it with a table that
 * maps the same sectors another way (one line, then two), and resumes it, over and over: fio sees
 * no error and every block verifies.
 */
@Timeout(180)
class SuspendReloadUnderFioTest {
    static final String ONE_LINE = "0 65536 linear base 0";
    static final String TWO_LINES = "0 32768 linear base 0\n32768 32768 linear base 32768";

    @TempDir
    Path dir;

    @Test
    void fioSeesNoErrorAndNoLostWrite() throws Exception {
        String fio = Tools.require("fio");
        try (Daemon d = TestDaemons.start(dir, "base=file:" + dir.resolve("base.img") + ":64M")) {
            DdsetupCli cli = new DdsetupCli(d);
            cli.ok("create", "lv", "--table", ONE_LINE);
            cli.ok("export", "lv");
            Path log = dir.resolve("fio.json");
            // Rate-limited so the write phase lasts a few seconds and the swaps land in it.
            Process p = Exec.start(null, log, List.of(fio, "--name=v", "--ioengine=nbd", "--uri=" + d.uri("lv"),
                    "--rw=randwrite", "--bs=4k", "--iodepth=16", "--size=24M", "--rate=4m",
                    "--verify=crc32c", "--do_verify=1", "--verify_fatal=1", "--runtime=60", "--output-format=json"));
            int cycles = 0;
            List<String> tables = new ArrayList<>();
            try {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (p.isAlive() && cycles < 40 && System.nanoTime() < deadline) {
                    String next = cycles % 2 == 0 ? TWO_LINES : ONE_LINE;
                    cli.ok("suspend", "lv");
                    assertThat(cli.ok("info", "lv").out()).contains("SUSPENDED");
                    cli.ok("reload", "lv", "--table", next);
                    Thread.sleep(20); // held I/O queues up meanwhile
                    cli.ok("resume", "lv");
                    tables.add(cli.ok("table", "lv").out());
                    cycles++;
                    Thread.sleep(50);
                }
                assertThat(p.waitFor(90, TimeUnit.SECONDS)).as("fio finished").isTrue();
            } finally {
                Exec.kill(p);
            }
            String out = Files.readString(log);
            assertThat(p.exitValue()).as(out).isZero();
            assertThat(cycles).as("suspend/reload/resume cycles during the fio run").isGreaterThanOrEqualTo(8);
            assertThat(tables.getFirst()).isEqualTo("0 32768 linear base 0\n32768 32768 linear base 32768\n");
            String json = out.substring(Math.max(0, out.indexOf('{')));
            assertThat(FioTest.first(json, "\"error\"\\s*:\\s*(\\d+)")).as(out).isZero();
            long written = FioTest.first(FioTest.section(json, "write"), "\"io_bytes\"\\s*:\\s*(\\d+)");
            long verified = FioTest.first(FioTest.section(json, "read"), "\"io_bytes\"\\s*:\\s*(\\d+)");
            assertThat(written).isPositive();
            assertThat(verified).as("every block written was read back and verified").isEqualTo(written);
            assertThat(out).doesNotContain("verify: bad").doesNotContainIgnoringCase("crc32c: wanted");
            assertThat(cli.ok("info", "lv").out()).contains("ACTIVE").contains("Tables present:    LIVE\n");
        }
    }
}
