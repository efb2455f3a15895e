package ddtree.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import ddtree.ddlink.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A ddsnap volume across a crash of its daemon: the daemon runs in a process of its own, is
 * killed with SIGKILL (no clean stop, no checkpoint of the store), and a new daemon on the same
 * state directory brings back the volume, its snapshot devices and their exports, with the data
 * every one of them had. Then a clean stop and start, once more.
 */
@Timeout(240)
class DdsnapRestartTest {
    static final int K = 1024;
    static final int M = 1 << 20;

    @TempDir
    Path dir;

    /** {@code ddtree serve} in a JVM of its own, on this test's class path, with its state in {@code dir/state}. */
    private Launched serve(int port) throws Exception {
        return Launched.inJvm(dir, Files.createTempFile(dir, "serve-", ".log"), port,
                List.of("--state", dir.resolve("state").toString(), "--device", "r=ram:1M"));
    }

    static String read(int pattern, long offset, long length) {
        return "read -P 0x" + Integer.toHexString(pattern) + " " + offset + " " + length;
    }

    static String write(int pattern, long offset, long length) {
        return "write -P 0x" + Integer.toHexString(pattern) + " " + offset + " " + length;
    }

    @Test
    void theVolumeItsSnapshotsAndTheirDataComeBackAfterACrash() throws Exception {
        Tools.requireAll("qemu-io", "nbdinfo");
        int port = Launched.freePort();
        try (Launched s = serve(port)) {
            DdsnapCli cli = new DdsnapCli(dir.resolve("state/control.sock"));
            cli.ok("init", "vm", "--origin", "file:" + dir.resolve("vm.img") + ":64M",
                    "--store", "file:" + dir.resolve("vm.store") + ":64M");
            TestDaemons.qemuIoOk(s.uri("vm"), write(0x11, 0, 2 * M));
            cli.ok("create", "vm", "x");
            TestDaemons.qemuIoOk(s.uri("vm"), write(0x22, 0, M));
            cli.ok("create", "vm", "y", "--writable", "--priority", "3");
            TestDaemons.qemuIoOk(s.uri("vm@y"), write(0x33, 3 * M, 64 * K));
            TestDaemons.qemuIoOk(s.uri("vm"), write(0x44, M, M / 2));
            // One more, with chunks of its own, deleted: its reclaim may or may not be done when
            // the daemon dies.
            cli.ok("create", "vm", "z");
            TestDaemons.qemuIoOk(s.uri("vm"), write(0x55, M, M / 2));
            cli.ok("delete", "vm", "z");
            assertAll(s::uri, cli);
            s.crash();
        }

        // The state file lists the volume before the snapshots stacked on it.
        JsonNode saved = Json.MAPPER.readTree(dir.resolve("state/devices.json").toFile());
        List<String> order = new ArrayList<>();
        saved.get("devices").forEach(n -> order.add(n.get("name").asText()));
        assertThat(order).containsSubsequence("vm", "vm@x").containsSubsequence("vm", "vm@y")
                .doesNotContain("vm@z").contains("r");

        try (Daemon d = TestDaemons.start(dir, port, "r=ram:1M")) {
            DdsnapCli cli = new DdsnapCli(d);
            assertAll(d::uri, cli);
            // It goes on: a new snapshot, writes, and a deletion that reclaims.
            TestDaemons.qemuIoOk(d.uri("vm"), write(0x66, M, 64 * K));
            cli.ok("create", "vm", "after");
            TestDaemons.qemuIoOk(d.uri("vm"), write(0x77, M, 64 * K));
            TestDaemons.qemuIoOk(List.of("-r"), d.uri("vm@after"), read(0x66, M, 64 * K), read(0x22, 0, M));
            TestDaemons.qemuIoOk(d.uri("vm"), read(0x77, M, 64 * K));
            cli.ok("delete", "vm", "after");
            TestDaemons.qemuIoOk(d.uri("vm"), write(0x55, M, 64 * K));
        }
        // A clean stop and start too.
        try (Daemon d = TestDaemons.start(dir, port, "r=ram:1M")) {
            DdsnapCli cli = new DdsnapCli(d);
            assertAll(d::uri, cli);
        }
    }

    /** The devices, exports, snapshots and data as the first daemon left them. */
    void assertAll(java.util.function.Function<String, String> uri, DdsnapCli cli) throws Exception {
        Exec.Result list = Exec.run(TestDaemons.CLIENT_TIMEOUT, Tools.require("nbdinfo"), "--list", "--json",
                uri.apply("")).assertOk();
        Map<String, Boolean> exports = new LinkedHashMap<>();
        Json.MAPPER.readTree(list.out()).get("exports").forEach(n -> exports.put(n.get("export-name").asText(),
                n.path("is_read_only").asBoolean()));
        assertThat(exports).as(list.describe()).containsOnlyKeys("r", "vm", "vm@x", "vm@y");
        assertThat(exports.get("vm@x")).as("vm@x is read-only").isTrue();
        assertThat(exports.get("vm@y")).as("vm@y is writable").isFalse();
        assertThat(exports.get("vm")).isFalse();

        JsonNode snaps = cli.ok("list", "vm", "--json").json().path("snapshots");
        Map<String, JsonNode> byName = new LinkedHashMap<>();
        snaps.forEach(n -> byName.put(n.path("name").asText(), n));
        assertThat(byName).containsOnlyKeys("x", "y");
        assertThat(byName.get("x").path("writable").asBoolean()).isFalse();
        assertThat(byName.get("y").path("writable").asBoolean()).isTrue();
        assertThat(byName.get("y").path("priority").asInt()).isEqualTo(3);
        assertThat(byName.get("x").path("state").asText()).isEqualTo("live");

        TestDaemons.qemuIoOk(uri.apply("vm"), read(0x22, 0, M), read(0x55, M, M / 2), read(0x11, 3 * M / 2, M / 2),
                read(0, 2 * M, 2 * M));
        TestDaemons.qemuIoOk(List.of("-r"), uri.apply("vm@x"), read(0x11, 0, 2 * M), read(0, 2 * M, 10 * M));
        TestDaemons.qemuIoOk(uri.apply("vm@y"), read(0x22, 0, M), read(0x11, M, M), read(0, 2 * M, M),
                read(0x33, 3 * M, 64 * K), read(0, 3 * M + 64 * K, M - 64 * K));

        // z's 8 chunks come back, whether the sweep ran before the crash or resumes after it. Left:
        // x's 16 (the first MiB), y's own 1, and the 8 x and y share (the 512 KiB at 1 MiB).
        JsonNode[] last = {null};
        boolean reclaimed = TestDaemons.await(Duration.ofSeconds(30), () -> {
            last[0] = cli.ok("status", "vm", "--json").json();
            return last[0].path("deleting").asLong() == 0;
        });
        assertThat(reclaimed).as("z reclaimed: " + last[0]).isTrue();
        assertThat(last[0].path("snapshots").asLong()).isEqualTo(2);
        assertThat(last[0].path("failure").isNull()).as(last[0].toString()).isTrue();
        assertThat(last[0].path("storeChunksUsed").asLong()).as(last[0].toString()).isEqualTo(16 + 1 + 8);
    }
}
