package ddtree.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import ddtree.ddlink.Json;
import java.io.IOException;
import java.io.RandomAccessFile;
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

/**
 * bin/ddsetup and bin/ddtree as a user runs them: devices made and exported with ddsetup survive
 * a kill -9 of the daemon with their data; exit codes; a command line that contradicts the saved
 * devices. Runs after package (failsafe), so the launchers find the project built.
 */
@Timeout(300)
class DdsetupIT {
    static final Duration START = Launched.START;
    static Path bin;

    @TempDir
    Path dir;

    @BeforeAll
    static void findLaunchers() {
        bin = Launched.bin("ddsetup").getParent();
    }

    /** bin/ddtree serve with its state in {@code dir/state}; closing kills it. */
    private Launched serve(int port, String... args) throws Exception {
        List<String> all = new ArrayList<>(List.of("--state", dir.resolve("state").toString()));
        all.addAll(List.of(args));
        return new Launched(dir, Files.createTempFile(dir, "serve-", ".log"), port, all);
    }

    Exec.Result ddsetup(String... args) {
        List<String> cmd = new ArrayList<>(List.of(bin.resolve("ddsetup").toString()));
        cmd.addAll(List.of(args));
        return Exec.run(START, dir, Map.of("DDTREE_CONTROL", dir.resolve("state/control.sock").toString()), cmd);
    }

    Exec.Result ddsetupOk(String... args) {
        Exec.Result r = ddsetup(args).assertOk();
        // The launcher says when it rebuilds first (a source changed since package); nothing else may be said.
        assertThat(r.err().replace("building ddtree...\n", "")).as(r.describe()).isEmpty();
        return r;
    }

    @Test
    void devicesExportsAndDataComeBackAfterKillNine() throws Exception {
        Tools.requireAll("qemu-io", "nbdinfo");
        Path a = sparse("a.img", 16 << 20);
        Path b = sparse("b.img", 16 << 20);
        int port = Launched.freePort();
        String table;
        String tree;
        try (Launched s = serve(port, "--device", "base=file:base.img:8M")) {
            ddsetupOk("create", "st", "--table", "0 65536 striped 2 64 " + a + " 0 " + b + " 0");
            ddsetupOk("create", "part", "--table", "0 8192 linear st 4096");
            ddsetupOk("export", "st");
            ddsetupOk("export", "part", "--as", "p", "--read-only");
            TestDaemons.qemuIoOk(s.uri("st"), "write -P 0x5e 2M 1M", "write -P 0x5f 20M 64k");
            TestDaemons.qemuIoOk(s.uri("base"), "write -P 0x71 0 1M");
            table = ddsetupOk("table").out();
            tree = ddsetupOk("ls", "--tree").out();
            s.process.destroyForcibly(); // kill -9: no clean stop, no flush on the way out
            assertThat(s.process.waitFor(30, TimeUnit.SECONDS)).isTrue();
        }
        JsonNode saved = Json.MAPPER.readTree(dir.resolve("state/devices.json").toFile());
        assertThat(saved.get("devices")).extracting(n -> n.get("name").asText()).containsExactly("base", "st", "part");
        assertThat(dir.resolve("state/devices.json.tmp")).doesNotExist();

        try (Launched s = serve(port, "--device", "base=file:base.img:8M")) {
            assertThat(s.output()).contains("  st    32.0 MiB  striped").contains("  part  4.0 MiB   linear  read-only  exported as p");
            assertThat(ddsetupOk("table").out()).isEqualTo(table);
            assertThat(ddsetupOk("ls", "--tree").out()).isEqualTo(tree);
            JsonNode info = Json.MAPPER.readTree(ddsetupOk("--json", "info", "part").out());
            assertThat(info.get(0).get("export").asText()).isEqualTo("p");
            assertThat(info.get(0).get("readOnly").asBoolean()).isTrue();
            assertThat(info.get(0).get("state").asText()).isEqualTo("ACTIVE");
            TestDaemons.qemuIoOk(s.uri("st"), "read -P 0x5e 2M 1M", "read -P 0x5f 20M 64k");
            TestDaemons.qemuIoOk(List.of("-r"), s.uri("p"), "read -P 0x5e 0 1M");
            TestDaemons.qemuIoOk(s.uri("base"), "read -P 0x71 0 1M");
            Exec.Result ro = TestDaemons.qemuIo(s.uri("p"), "write -P 1 0 4k");
            assertThat(ro.all()).as(ro.describe()).containsIgnoringCase("permission");
            Exec.Result list = Exec.run(TestDaemons.CLIENT_TIMEOUT, Tools.require("nbdinfo"), "--list", "--json", s.uri("")).assertOk();
            JsonNode exports = Json.MAPPER.readTree(list.out()).get("exports");
            assertThat(exports).extracting(n -> n.get("export-name").asText()).containsExactlyInAnyOrder("base", "st", "p");
        }
    }

    @Test
    void exitCodesScriptsCanRelyOn() throws Exception {
        Exec.Result unreachable = ddsetup("ls");
        assertThat(unreachable.exitCode()).as(unreachable.describe()).isEqualTo(3);
        assertThat(unreachable.err()).contains("ddsetup: cannot reach the daemon at " + dir.resolve("state/control.sock"));
        Exec.Result usage = ddsetup("create");
        assertThat(usage.exitCode()).as(usage.describe()).isEqualTo(2);
        assertThat(usage.err()).contains("ddsetup: Missing required parameter: 'NAME'");
        try (Launched s = serve(Launched.freePort(), "--device", "r=ram:1M")) {
            Exec.Result refused = ddsetup("remove", "nosuch");
            assertThat(refused.exitCode()).as(refused.describe()).isEqualTo(1);
            assertThat(refused.err()).endsWith("ddsetup: no device named 'nosuch'\n");
            assertThat(ddsetupOk("ls").out()).isEqualTo("r\t(1.0 MiB)\n");
            // --control wins over DDTREE_CONTROL.
            Exec.Result elsewhere = ddsetup("--control", dir.resolve("nowhere.sock").toString(), "ls");
            assertThat(elsewhere.exitCode()).isEqualTo(3);
            // A table on standard input, the way scripts pipe one in.
            Exec.Result piped = Exec.run(START, dir, Map.of(), List.of("sh", "-c", "printf '0 8 zero\\n8 8 error\\n' | "
                    + bin.resolve("ddsetup") + " --control " + dir.resolve("state/control.sock") + " create z"));
            assertThat(piped.exitCode()).as(piped.describe()).isZero();
            assertThat(ddsetupOk("table", "z").out()).isEqualTo("0 8 zero\n8 8 error\n");
            assertThat(ddsetupOk("info", "z").out()).isEqualTo(String.join("\n",
                    "Name:              z",
                    "State:             ACTIVE",
                    "Tables present:    LIVE",
                    "Open count:        0",
                    "Number of targets: 2",
                    "Size:              8192 bytes (8.0 KiB, 16 sectors)",
                    "Export:            none", ""));
        }
    }

    @Test
    void aCommandLineDeviceThatContradictsTheSavedOneIsRefused() throws Exception {
        int port = Launched.freePort();
        try (Launched s = serve(port, "--device", "a=ram:1M")) {
            s.process.destroy();
            assertThat(s.process.waitFor(60, TimeUnit.SECONDS)).isTrue();
        }
        // The same again is fine.
        try (Launched s = serve(port, "--device", "a=ram:1M")) {
            s.process.destroy();
            assertThat(s.process.waitFor(60, TimeUnit.SECONDS)).isTrue();
        }
        Exec.Result r = Exec.run(START, dir, Map.of(), List.of(bin.resolve("ddtree").toString(), "serve",
                "--state", dir.resolve("state").toString(), "--listen", "127.0.0.1:" + port, "--device", "a=ram:2M"));
        assertThat(r.exitCode()).as(r.describe()).isEqualTo(1);
        assertThat(r.err()).contains("ddtree: --device a conflicts with device 'a' saved in " + dir.resolve("state/devices.json")
                + ": the command line gives table '0 4096 ram' but the saved one is '0 2048 ram'");
    }

    private Path sparse(String name, long size) throws IOException {
        Path p = dir.resolve(name);
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(size);
        }
        return p;
    }
}
