package ddtree.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** fio's nbd engine writes at queue depth 16 and verifies every block it wrote. */
@Timeout(180)
class FioTest {
    @TempDir
    Path dir;

    Daemon daemon;

    @BeforeEach
    void start() throws Exception {
        daemon = TestDaemons.start(dir, "ram=ram:64M", "file=file:" + dir.resolve("file.img") + ":64M");
    }

    @AfterEach
    void stop() throws Exception {
        if (daemon != null) {
            daemon.close();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"ram", "file"})
    void randomWritesVerify(String name) {
        String fio = Tools.require("fio");
        Exec.Result r = Exec.run(Duration.ofSeconds(120), List.of(fio,
                "--name=v", "--ioengine=nbd", "--uri=" + daemon.uri(name),
                "--rw=randwrite", "--bs=4k", "--iodepth=16", "--size=16M",
                "--verify=crc32c", "--do_verify=1", "--verify_fatal=1", "--verify_state_save=0",
                "--runtime=60", "--output-format=json"));
        r.assertOk();
        String json = r.out().substring(Math.max(0, r.out().indexOf('{')));
        assertThat(first(json, "\"error\"\\s*:\\s*(\\d+)")).as(r.describe()).isZero();
        long written = first(section(json, "write"), "\"io_bytes\"\\s*:\\s*(\\d+)");
        long verified = first(section(json, "read"), "\"io_bytes\"\\s*:\\s*(\\d+)");
        long verifiedIos = first(section(json, "read"), "\"total_ios\"\\s*:\\s*(\\d+)");
        assertThat(written).as("bytes written\n" + r.describe()).isPositive();
        assertThat(verified).as("bytes read back for verification\n" + r.describe()).isEqualTo(written);
        assertThat(verifiedIos).isPositive();
        assertThat(r.all()).doesNotContain("verify: bad").doesNotContainIgnoringCase("crc32c: wanted");
    }

    @ParameterizedTest
    @ValueSource(strings = {"file"})
    void mixedReadWriteWithTrimsAndFlushes(String name) {
        String fio = Tools.require("fio");
        Exec.Result r = Exec.run(Duration.ofSeconds(120), List.of(fio,
                "--name=mix", "--ioengine=nbd", "--uri=" + daemon.uri(name),
                "--rw=randtrimwrite", "--bsrange=512-64k", "--iodepth=8", "--size=8M",
                "--fsync=16", "--runtime=30", "--output-format=json"));
        if (r.err().contains("randtrimwrite") && r.exitCode() != 0) {
            // Older fio without randtrimwrite: a plain random mix still exercises flush.
            r = Exec.run(Duration.ofSeconds(120), List.of(fio,
                    "--name=mix", "--ioengine=nbd", "--uri=" + daemon.uri(name),
                    "--rw=randrw", "--bsrange=512-64k", "--iodepth=8", "--size=8M",
                    "--fsync=16", "--runtime=30", "--output-format=json"));
        }
        r.assertOk();
        String json = r.out().substring(Math.max(0, r.out().indexOf('{')));
        assertThat(first(json, "\"error\"\\s*:\\s*(\\d+)")).as(r.describe()).isZero();
    }

    /** The text of {@code "name" : {...}} up to its first closing brace, enough for flat numbers. */
    static String section(String json, String name) {
        int at = json.indexOf("\"" + name + "\" : {");
        assertThat(at).as("section " + name + " in\n" + json).isNotNegative();
        return json.substring(at, json.indexOf('}', at));
    }

    static long first(String text, String regex) {
        Matcher m = Pattern.compile(regex).matcher(text);
        assertThat(m.find()).as(regex + " in\n" + text).isTrue();
        return Long.parseLong(m.group(1));
    }
}
