package ddtree.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import ddtree.ddlink.DdlinkClient;
import ddtree.ddlink.Event;
import ddtree.ddlink.Subscription;
import ddtree.nbd.RawClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * ddsnap volumes driven through the command line (in-process) against a daemon, with qemu-io,
 * nbdinfo and a raw NBD client reading and writing the exports: writable snapshots that diverge,
 * the figures {@code list} and {@code status} give, deletion and reclaim, revert, priorities, a
 * store that fills, a thousand snapshots of one volume, and input the commands refuse.
 */
@Timeout(240)
class DdsnapVolumeTest {
    static final int K = 1024;
    static final int M = 1 << 20;
    static final int CHUNK = 64 * K;

    @TempDir
    Path dir;

    Daemon d;
    DdsnapCli cli;

    @BeforeEach
    void start() throws Exception {
        Tools.requireAll("qemu-io", "nbdinfo");
        d = TestDaemons.start(dir, "r=ram:1M");
        cli = new DdsnapCli(d);
    }

    @AfterEach
    void stop() throws Exception {
        if (d != null) {
            d.close();
        }
    }

    /** {@code ddsnap init vm} on a 64 MiB origin file and a store file. */
    void initVolume(String storeSize, String... more) {
        List<String> args = new ArrayList<>(List.of("init", "vm", "--origin", "file:" + dir.resolve("vm.img") + ":64M",
                "--store", "file:" + dir.resolve("vm.store") + ":" + storeSize));
        args.addAll(List.of(more));
        DdsnapCli.Result r = cli.ok(args.toArray(String[]::new));
        assertThat(r.out()).startsWith("volume vm: 64.0 MiB in ").contains("exported as vm");
    }

    String uri(String export) {
        return d.uri(export);
    }

    static String read(int pattern, long offset, long length) {
        return "read -P 0x" + Integer.toHexString(pattern) + " " + offset + " " + length;
    }

    static String write(int pattern, long offset, long length) {
        return "write -P 0x" + Integer.toHexString(pattern) + " " + offset + " " + length;
    }

    JsonNode status() {
        return cli.ok("status", "vm", "--json").json();
    }

    Map<String, JsonNode> listed() {
        Map<String, JsonNode> byName = new LinkedHashMap<>();
        cli.ok("list", "vm", "--json").json().path("snapshots").forEach(s -> byName.put(s.path("name").asText(), s));
        return byName;
    }

    @Test
    void writableSnapshotsOfOneStateDiverge() throws Exception {
        initVolume("64M");
        TestDaemons.qemuIoOk(uri("vm"), write(0x11, 0, 4 * M), write(0x22, 8 * M, M));
        assertThat(cli.ok("create", "vm", "a", "--writable").out())
                .isEqualTo("snapshot a of vm (id 1), exported writable as vm@a\n");
        assertThat(cli.ok("create", "vm", "b", "--writable").out())
                .isEqualTo("snapshot b of vm (id 2), exported writable as vm@b\n");

        // Whole chunks and parts of one, on each snapshot and on the volume.
        TestDaemons.qemuIoOk(uri("vm@a"), write(0xaa, 0, CHUNK), write(0xab, M, 8 * K));
        TestDaemons.qemuIoOk(uri("vm@b"), write(0xbb, CHUNK, CHUNK), write(0xbc, M + 4 * K, 4 * K));
        TestDaemons.qemuIoOk(uri("vm"), write(0xcc, 2 * M, M), write(0xcd, 8 * M, CHUNK));

        TestDaemons.qemuIoOk(uri("vm@a"),
                read(0xaa, 0, CHUNK),
                read(0x11, CHUNK, CHUNK), // what b wrote is not in a
                read(0x11, 2 * CHUNK, M - 2 * CHUNK),
                read(0xab, M, 8 * K),
                read(0x11, M + 8 * K, CHUNK - 8 * K), // the rest of the chunk a wrote part of
                read(0x11, 2 * M, M), // the volume's later writes are not in a
                read(0x11, 3 * M, M),
                read(0, 4 * M, 4 * M),
                read(0x22, 8 * M, M),
                read(0, 9 * M, 55 * M));
        TestDaemons.qemuIoOk(uri("vm@b"),
                read(0x11, 0, CHUNK), // what a wrote is not in b
                read(0xbb, CHUNK, CHUNK),
                read(0x11, 2 * CHUNK, M - 2 * CHUNK),
                read(0x11, M, 4 * K),
                read(0xbc, M + 4 * K, 4 * K),
                read(0x11, M + 8 * K, CHUNK - 8 * K),
                read(0x11, 2 * M, 2 * M),
                read(0x22, 8 * M, M));
        TestDaemons.qemuIoOk(uri("vm"),
                read(0x11, 0, 2 * M), // neither snapshot's writes reach the volume
                read(0xcc, 2 * M, M),
                read(0x11, 3 * M, M),
                read(0, 4 * M, 4 * M),
                read(0xcd, 8 * M, CHUNK),
                read(0x22, 8 * M + CHUNK, M - CHUNK));

        // b differs from a exactly in the chunks either of them wrote.
        Exec.Result map = Exec.run(TestDaemons.CLIENT_TIMEOUT, Tools.require("nbdinfo"), "--map=ddtree:changed:a",
                uri("vm@b")).assertOk();
        assertThat(changedRanges(map.out())).as(map.describe())
                .containsExactly(List.of(0L, 2L * CHUNK), List.of((long) M, (long) CHUNK));

        // Each snapshot's own chunks and the volume's copy-outs are in the store, once.
        JsonNode s = status();
        assertThat(s.path("snapshots").asLong()).isEqualTo(2);
        // a: 2 chunks of its own; b: 2; the volume's 17 first writes since both: shared copies.
        assertThat(s.path("storeChunksUsed").asLong()).isEqualTo(2 + 2 + 17);
        assertThat(s.path("sharing").path("1").asLong()).isEqualTo(4);
        assertThat(s.path("sharing").path("2").asLong()).isEqualTo(17);
    }

    /** The ranges nbdinfo --map prints with flag 1, as [offset, length], adjacent ones merged. */
    static List<List<Long>> changedRanges(String mapOutput) {
        List<List<Long>> out = new ArrayList<>();
        for (String line : mapOutput.strip().split("\n")) {
            String[] f = line.strip().split("\\s+");
            if (f.length < 3 || !f[2].equals("1")) {
                continue;
            }
            long off = Long.parseLong(f[0]);
            long len = Long.parseLong(f[1]);
            if (!out.isEmpty() && out.getLast().get(0) + out.getLast().get(1) == off) {
                List<Long> last = out.removeLast();
                out.add(List.of(last.get(0), last.get(1) + len));
            } else {
                out.add(List.of(off, len));
            }
        }
        return out;
    }

    @Test
    void listAndStatusFollowCopyOutsAndDeletionReclaims() throws Exception {
        initVolume("64M");
        TestDaemons.qemuIoOk(uri("vm"), write(0x11, 0, 4 * M));
        JsonNode s0 = status();
        assertThat(s0.path("chunkSize").asLong()).isEqualTo(CHUNK);
        assertThat(s0.path("originBytes").asLong()).isEqualTo(64L * M);
        assertThat(s0.path("storeChunksUsed").asLong()).isZero();
        assertThat(s0.path("snapshots").asLong()).isZero();
        assertThat(cli.ok("list", "vm").out()).isEqualTo("No snapshots\n");

        cli.ok("create", "vm", "s1");
        Map<String, JsonNode> l1 = listed();
        assertThat(l1).containsOnlyKeys("s1");
        assertThat(l1.get("s1").path("unique").asLong()).isZero();
        assertThat(l1.get("s1").path("shared").asLong()).isZero();
        assertThat(l1.get("s1").path("state").asText()).isEqualTo("live");
        assertThat(l1.get("s1").path("writable").asBoolean()).isFalse();

        // 16 chunks copied out for s1 alone.
        TestDaemons.qemuIoOk(uri("vm"), write(0x21, 0, M));
        JsonNode s1 = status();
        assertThat(s1.path("storeChunksUsed").asLong()).isEqualTo(16);
        assertThat(s1.path("exceptions").asLong()).isEqualTo(16);
        assertThat(s1.path("sharing").toString()).isEqualTo("{\"1\":16}");
        assertThat(listed().get("s1").path("unique").asLong()).isEqualTo(16);

        // Chunks 8-15: s1 has its copy, s2 gets one of its own; chunks 16-23: one copy for both.
        cli.ok("create", "vm", "s2");
        TestDaemons.qemuIoOk(uri("vm"), write(0x22, M / 2, M));
        JsonNode s2 = status();
        assertThat(s2.path("storeChunksUsed").asLong()).isEqualTo(32);
        assertThat(s2.path("sharing").toString()).isEqualTo("{\"1\":24,\"2\":8}");
        assertThat(s2.path("snapshots").asLong()).isEqualTo(2);
        Map<String, JsonNode> l2 = listed();
        assertThat(l2).containsOnlyKeys("s1", "s2");
        assertThat(l2.get("s1").path("unique").asLong()).isEqualTo(16);
        assertThat(l2.get("s1").path("shared").asLong()).isEqualTo(8);
        assertThat(l2.get("s2").path("unique").asLong()).isEqualTo(8);
        assertThat(l2.get("s2").path("shared").asLong()).isEqualTo(8);

        List<String> text = cli.ok("list", "vm").out().lines().toList();
        assertThat(text).hasSize(3);
        assertThat(text.get(0).split("\\s+")).containsExactly("NAME", "CREATED", "STATE", "MODE", "PRIORITY", "UNIQUE",
                "SHARED");
        assertThat(text.get(1)).startsWith("s1 ").matches(".*\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d live +ro +0 +1\\.0 MiB +512\\.0 KiB");
        assertThat(text.get(2)).startsWith("s2 ").endsWith(" live      ro              0   512.0 KiB   512.0 KiB");
        String statusText = cli.ok("status", "vm").out();
        assertThat(statusText).contains("volume:     vm, 64.0 MiB in 64.0 KiB chunks\n")
                .containsPattern("store:      2\\.0 MiB of \\d+\\.\\d MiB used \\(\\d+\\.\\d%\\)\n")
                .contains("snapshots:  2 live, 0 being reclaimed, 0 dropped\n")
                .contains("sharing:    32 copied-out chunks\n  1 snap    24\n  2 snaps   8\n");

        TestDaemons.qemuIoOk(List.of("-r"), uri("vm@s1"), read(0x11, 0, 4 * M));
        TestDaemons.qemuIoOk(List.of("-r"), uri("vm@s2"), read(0x21, 0, M), read(0x11, M, 3 * M));
        TestDaemons.qemuIoOk(uri("vm"), read(0x21, 0, M / 2), read(0x22, M / 2, M), read(0x11, 3 * M / 2, 5 * M / 2));

        // Deleting s1 frees its 16 chunks; the 8 it shared stay, for s2 alone.
        assertThat(cli.ok("delete", "vm", "s1").out()).isEqualTo("snapshot s1 of vm deleted\n");
        assertThat(exports()).doesNotContain("vm@s1").contains("vm", "vm@s2");
        JsonNode reclaimed = awaitStatus(s -> s.path("storeChunksUsed").asLong() == 16 && s.path("deleting").asLong() == 0);
        assertThat(reclaimed.path("snapshots").asLong()).isEqualTo(1);
        assertThat(reclaimed.path("sharing").toString()).isEqualTo("{\"1\":16}");
        Map<String, JsonNode> l3 = listed();
        assertThat(l3).containsOnlyKeys("s2");
        assertThat(l3.get("s2").path("unique").asLong()).isEqualTo(16);
        assertThat(l3.get("s2").path("shared").asLong()).isZero();
        TestDaemons.qemuIoOk(List.of("-r"), uri("vm@s2"), read(0x21, 0, M), read(0x11, M, 3 * M));

        cli.ok("delete", "vm", "s2");
        JsonNode empty = awaitStatus(s -> s.path("storeChunksUsed").asLong() == 0 && s.path("deleting").asLong() == 0);
        assertThat(empty.path("exceptions").asLong()).isZero();
        assertThat(cli.ok("list", "vm").out()).isEqualTo("No snapshots\n");
        TestDaemons.qemuIoOk(uri("vm"), read(0x21, 0, M / 2), read(0x22, M / 2, M));
    }

    /** Polls {@code status --json} until {@code done} holds; fails after 30 s with the last answer. */
    JsonNode awaitStatus(java.util.function.Predicate<JsonNode> done) throws InterruptedException {
        JsonNode[] last = {null};
        boolean ok = TestDaemons.await(Duration.ofSeconds(30), () -> done.test(last[0] = status()));
        assertThat(ok).as("status reached the expected figures; last: " + last[0]).isTrue();
        return last[0];
    }

    List<String> exports() {
        Exec.Result r = Exec.run(TestDaemons.CLIENT_TIMEOUT, Tools.require("nbdinfo"), "--list", "--json", uri(""))
                .assertOk();
        List<String> names = new ArrayList<>();
        try {
            ddtree.ddlink.Json.MAPPER.readTree(r.out()).path("exports").forEach(x -> names.add(x.path("export-name").asText()));
        } catch (java.io.IOException e) {
            throw new AssertionError(r.describe(), e);
        }
        return names;
    }

    @Test
    void revertBringsBackASnapshotAndOthersKeepTheirs() throws Exception {
        initVolume("64M");
        TestDaemons.qemuIoOk(uri("vm"), write(0x11, 0, M));
        cli.ok("create", "vm", "r1");
        TestDaemons.qemuIoOk(uri("vm"), write(0x22, 0, M / 2));
        cli.ok("create", "vm", "r2", "--priority", "5");
        TestDaemons.qemuIoOk(uri("vm"), write(0x33, M / 4, M / 2), write(0x44, 5 * M, CHUNK));

        assertThat(cli.ok("revert", "vm", "r1").out()).isEqualTo("vm reverted to snapshot r1\n");
        TestDaemons.qemuIoOk(uri("vm"), read(0x11, 0, M), read(0, M, 4 * M), read(0, 5 * M, CHUNK));
        TestDaemons.qemuIoOk(List.of("-r"), uri("vm@r1"), read(0x11, 0, M), read(0, 5 * M, CHUNK));
        TestDaemons.qemuIoOk(List.of("-r"), uri("vm@r2"), read(0x22, 0, M / 2), read(0x11, M / 2, M / 2),
                read(0, 5 * M, CHUNK));

        // The volume goes on from there, and may be reverted again.
        TestDaemons.qemuIoOk(uri("vm"), write(0x55, 0, CHUNK));
        cli.ok("revert", "vm", "r2");
        TestDaemons.qemuIoOk(uri("vm"), read(0x22, 0, M / 2), read(0x11, M / 2, M / 2));
        TestDaemons.qemuIoOk(List.of("-r"), uri("vm@r1"), read(0x11, 0, M));

        assertThat(cli.ok("priority", "vm", "r1", "7").out()).isEqualTo("snapshot r1 of vm: priority 7\n");
        Map<String, JsonNode> l = listed();
        assertThat(l.get("r1").path("priority").asInt()).isEqualTo(7);
        assertThat(l.get("r2").path("priority").asInt()).isEqualTo(5);
        assertThat(cli.ok("list", "vm").out().lines().filter(x -> x.startsWith("r1 ")).findFirst().orElseThrow())
                .containsPattern(" live +ro +7 ");
    }

    @Test
    void aFullStoreDropsTheLowestPrioritySnapshotAndTheVolumeKeepsEveryWrite() throws Exception {
        cli.ok("init", "vm", "--origin", "file:" + dir.resolve("vm.img") + ":64M",
                "--store", "file:" + dir.resolve("vm.store") + ":2M",
                "--metadata", "file:" + dir.resolve("vm.meta") + ":16M");
        long chunks = status().path("storeChunks").asLong();
        assertThat(chunks).as("store chunks").isEqualTo(2 * M / CHUNK);

        List<Event> events = new CopyOnWriteArrayList<>();
        try (Subscription sub = DdlinkClient.subscribe(d.controlSocket(), "test", events::add)) {
            // Each snapshot gets 8 chunks of its own (chunks 0-7 rewritten after each), oldest first.
            cli.ok("create", "vm", "high", "--priority", "9");
            TestDaemons.qemuIoOk(uri("vm"), write(0xa1, 0, 8 * CHUNK));
            cli.ok("create", "vm", "low", "--priority", "1");
            TestDaemons.qemuIoOk(uri("vm"), write(0xa2, 0, 8 * CHUNK));
            cli.ok("create", "vm", "mid", "--priority", "5");
            TestDaemons.qemuIoOk(uri("vm"), write(0xa3, 0, 8 * CHUNK));
            assertThat(status().path("storeChunksUsed").asLong()).isEqualTo(24);

            // Then chunks all three share, until the store is full, and 4 more: only low has to go.
            long more = chunks - 24 + 4;
            TestDaemons.qemuIoOk(uri("vm"), write(0xb0, 8 * CHUNK, more * CHUNK));
            TestDaemons.qemuIoOk(uri("vm"), read(0xa3, 0, 8 * CHUNK), read(0xb0, 8 * CHUNK, more * CHUNK));

            JsonNode s = status();
            assertThat(s.path("snapshots").asLong()).isEqualTo(2);
            assertThat(s.path("dropped")).singleElement().satisfies(x -> {
                assertThat(x.path("name").asText()).isEqualTo("low");
                assertThat(x.path("state").asText()).isEqualTo("dropped");
                assertThat(x.path("priority").asInt()).isEqualTo(1);
            });
            assertThat(s.path("storeChunksUsed").asLong()).isEqualTo(chunks - 8 + 4);
            assertThat(cli.ok("status", "vm").out()).contains("snapshots:  2 live, 0 being reclaimed, 1 dropped\n")
                    .containsPattern("  dropped:  low at \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d \\(store full; priority 1\\)\n");
            Map<String, JsonNode> l = listed();
            assertThat(l.get("low").path("state").asText()).isEqualTo("dropped");
            assertThat(l.get("high").path("state").asText()).isEqualTo("live");
            assertThat(l.get("mid").path("state").asText()).isEqualTo("live");

            boolean heard = TestDaemons.await(Duration.ofSeconds(10), () -> events.stream().anyMatch(e ->
                    e.device().equals("vm") && e.detail().equals("snapshot low dropped: the store is full")));
            assertThat(heard).as("events: " + events).isTrue();
        }

        // The others keep their data; the dropped one answers with errors.
        TestDaemons.qemuIoOk(List.of("-r"), uri("vm@high"), read(0, 0, 8 * CHUNK), read(0, 8 * CHUNK, 8 * CHUNK));
        TestDaemons.qemuIoOk(List.of("-r"), uri("vm@mid"), read(0xa2, 0, 8 * CHUNK), read(0, 8 * CHUNK, 8 * CHUNK));
        Exec.Result dropped = TestDaemons.qemuIo(List.of("-r"), uri("vm@low"), read(0xa1, 0, CHUNK));
        assertThat(dropped.all()).as(dropped.describe()).contains("Input/output error");

        // Delete removes the record, and the device.
        cli.ok("delete", "vm", "low");
        assertThat(status().path("dropped")).isEmpty();
        assertThat(listed()).containsOnlyKeys("high", "mid");
        assertThat(exports()).doesNotContain("vm@low");
    }

    @Test
    void aThousandSnapshotsOfOneVolume() throws Exception {
        int n = 1000;
        int chunk = 4 * K;
        // In RAM: what is measured is the snapshot count's cost, not the disk's flushes.
        cli.ok("init", "vm", "--origin", "ram:64M", "--store", "ram:64M", "--chunk-size", "4K");
        long[] took = new long[n];
        try (RawClient c = new RawClient(d.address()).go("vm", false)) {
            byte[] data = new byte[chunk];
            for (int i = 0; i < n; i++) {
                Arrays.fill(data, pattern(i));
                assertThat(c.write((long) i * chunk, data)).as("write %d", i).isZero();
                long t0 = System.nanoTime();
                DdsnapCli.Result r = cli.run("create", "vm", name(i));
                took[i] = System.nanoTime() - t0;
                r.ok();
            }
        }
        long[] last = Arrays.copyOfRange(took, n - 100, n);
        Arrays.sort(last);
        long p95Last = last[94] / 1_000_000;
        long maxLast = last[99] / 1_000_000;
        double meanLast = Arrays.stream(last).average().orElseThrow() / 1e6;
        double meanFirst = Arrays.stream(Arrays.copyOfRange(took, 0, 100)).average().orElseThrow() / 1e6;
        System.out.printf("ddsnap create with up to %d snapshots: first 100 mean %.1f ms; last 100 mean %.1f ms,"
                + " 95th percentile %d ms, max %d ms%n", n, meanFirst, meanLast, p95Last, maxLast);
        // Generous bounds: a busy machine may stall one call, but taking a snapshot must not cost
        // more as snapshots pile up.
        assertThat(p95Last).as("95th percentile of the last 100 creates, ms").isLessThan(200);
        assertThat(maxLast).as("slowest of the last 100 creates, ms").isLessThan(1000);
        assertThat(meanLast).as("mean of the last 100 creates against the first 100 (%.1f ms)", meanFirst)
                .isLessThan(2 * meanFirst + 20);

        JsonNode list = cli.ok("list", "vm", "--json").json().path("snapshots");
        assertThat(list).hasSize(n);
        assertThat(list.get(0).path("name").asText()).isEqualTo(name(0));
        assertThat(list.get(n - 1).path("name").asText()).isEqualTo(name(n - 1));
        JsonNode s = status();
        assertThat(s.path("snapshots").asLong()).isEqualTo(n);
        // Write i copied chunk i out once, for every snapshot taken before it.
        assertThat(s.path("storeChunksUsed").asLong()).isEqualTo(n - 1);

        // Snapshot k holds writes 0..k and none after.
        for (int k : new int[] {0, 1, 37, 500, n - 2, n - 1}) {
            List<String> cmds = new ArrayList<>();
            for (int j : new int[] {0, k / 2, k}) {
                cmds.add(read(pattern(j) & 0xff, (long) j * chunk, chunk));
            }
            cmds.add(read(0, (long) (k + 1) * chunk, chunk));
            TestDaemons.qemuIoOk(List.of("-r"), uri("vm@" + name(k)), cmds.toArray(String[]::new));
        }
        TestDaemons.qemuIoOk(uri("vm"), read(pattern(0) & 0xff, 0, chunk), read(pattern(n - 1) & 0xff,
                (long) (n - 1) * chunk, chunk), read(0, (long) n * chunk, chunk));
    }

    static String name(int i) {
        return String.format("s%04d", i);
    }

    static byte pattern(int i) {
        return (byte) (i % 255 + 1);
    }

    @Test
    void deltasCarrySnapshotsToAnotherVolume() throws Exception {
        // Small volumes: a full stream reads every chunk, and applying it copies each one out.
        cli.ok("init", "vm", "--origin", "file:" + dir.resolve("vm.img") + ":16M",
                "--store", "file:" + dir.resolve("vm.store") + ":64M");
        cli.ok("init", "dst", "--origin", "file:" + dir.resolve("dst.img") + ":16M",
                "--store", "file:" + dir.resolve("dst.store") + ":64M");
        TestDaemons.qemuIoOk(uri("vm"), write(0x11, 0, 2 * M), write(0x12, 10 * M, CHUNK));
        cli.ok("create", "vm", "mon");
        TestDaemons.qemuIoOk(uri("vm"), write(0x21, M, M), write(0x22, 12 * M + 4 * K, 4 * K));
        cli.ok("create", "vm", "tue");
        TestDaemons.qemuIoOk(uri("vm"), write(0x31, 0, 4 * M)); // after tue: in no stream

        // A full stream through a file.
        Path full = dir.resolve("mon.delta");
        DdsnapCli.Result f = cli.ok("delta", "create", "vm", "mon", "-o", full.toString());
        assertThat(f.err()).startsWith("ddsnap: delta full mon: 256 chunks, ");
        assertThat(full).isNotEmptyFile();
        assertThat(cli.ok("delta", "apply", "dst", full.toString()).out()).startsWith("snapshot mon of dst received (")
                .endsWith("), exported read-only as dst@mon\n");
        TestDaemons.qemuIoOk(List.of("-r"), uri("dst@mon"), read(0x11, 0, 2 * M), read(0, 2 * M, 8 * M),
                read(0x12, 10 * M, CHUNK), read(0, 12 * M, 8 * K));
        TestDaemons.qemuIoOk(uri("dst"), read(0x11, 0, 2 * M), read(0x12, 10 * M, CHUNK));

        // Files that cannot be opened are this side's failure: exit 1, naming the file.
        Path nowhere = dir.resolve("no-such-dir").resolve("mon.delta");
        DdsnapCli.Result noDir = cli.run("delta", "create", "vm", "mon", "-o", nowhere.toString());
        assertThat(noDir.code()).as(noDir.toString()).isEqualTo(1);
        assertThat(noDir.err()).isEqualTo("ddsnap: cannot write " + nowhere + ": no such file or directory\n");
        // A refused stream leaves a file already at -o as it was, and no partial stream beside it.
        Path kept = Files.writeString(dir.resolve("kept.delta"), "an earlier stream");
        DdsnapCli.Result noSnap = cli.run("delta", "create", "vm", "no-such-snapshot", "-o", kept.toString());
        assertThat(noSnap.code()).as(noSnap.toString()).isEqualTo(1);
        assertThat(kept).hasContent("an earlier stream");
        assertThat(dir.resolve("kept.delta.partial")).doesNotExist();
        DdsnapCli.Result noFile = cli.run("delta", "apply", "dst", nowhere.toString());
        assertThat(noFile.code()).as(noFile.toString()).isEqualTo(1);
        assertThat(noFile.err()).isEqualTo("ddsnap: cannot read " + nowhere + ": no such file or directory\n");

        // An incremental one through standard output and input, as a pipe carries it.
        DdsnapCli.Result inc = cli.ok("delta", "create", "vm", "mon", "tue");
        assertThat(inc.err()).startsWith("ddsnap: delta mon -> tue: 17 chunks, ");
        assertThat(cli.runWithInput(inc.stdout(), "delta", "apply", "dst").ok().out())
                .startsWith("snapshot tue of dst received (");
        TestDaemons.qemuIoOk(List.of("-r"), uri("dst@tue"), read(0x11, 0, M), read(0x21, M, M), read(0, 2 * M, 2 * M),
                read(0x12, 10 * M, CHUNK), read(0, 12 * M, 4 * K), read(0x22, 12 * M + 4 * K, 4 * K));
        Map<String, JsonNode> src = listed();
        Map<String, JsonNode> dst = new LinkedHashMap<>();
        cli.ok("list", "dst", "--json").json().path("snapshots").forEach(x -> dst.put(x.path("name").asText(), x));
        assertThat(dst).containsOnlyKeys("mon", "tue");
        assertThat(dst.get("tue").path("guid")).isEqualTo(src.get("tue").path("guid"));

        // A damaged stream is refused and leaves the volume as it was; the intact one then applies.
        TestDaemons.qemuIoOk(uri("vm"), write(0x41, 6 * M, M));
        cli.ok("create", "vm", "wed");
        byte[] good = cli.ok("delta", "create", "vm", "tue", "wed", "--no-compress").stdout();
        byte[] bad = good.clone();
        bad[bad.length / 2] ^= 0x40;
        DdsnapCli.Result refused = cli.runWithInput(bad, "delta", "apply", "dst");
        assertThat(refused.code()).as(refused.toString()).isEqualTo(1);
        assertThat(refused.err()).startsWith("ddsnap: delta stream refused: ").endsWith("; volume dst is as it was\n");
        cli.ok("list", "dst", "--json").json().path("snapshots").forEach(x ->
                assertThat(x.path("name").asText()).isIn("mon", "tue"));
        TestDaemons.qemuIoOk(uri("dst"), read(0x11, 0, M), read(0x21, M, M), read(0, 6 * M, M));
        cli.runWithInput(good, "delta", "apply", "dst").ok();
        TestDaemons.qemuIoOk(List.of("-r"), uri("dst@wed"), read(0x31, 0, 4 * M), read(0x41, 6 * M, M),
                read(0x12, 10 * M, CHUNK), read(0x22, 12 * M + 4 * K, 4 * K));
    }

    @Test
    void badInputIsRefusedWithItsReason() throws Exception {
        initVolume("64M");

        DdsnapCli.Result unknown = cli.run("create", "nosuch", "x");
        assertThat(unknown.code()).as(unknown.toString()).isEqualTo(1);
        assertThat(unknown.err()).isEqualTo("ddsnap: no device named 'nosuch'\n");
        DdsnapCli.Result notVolume = cli.run("list", "r");
        assertThat(notVolume.code()).as(notVolume.toString()).isEqualTo(1);
        assertThat(notVolume.err()).isEqualTo("ddsnap: device 'r' is not a ddsnap volume (its table is ram; "
                + "'ddsnap init' makes a volume)\n");

        cli.ok("create", "vm", "a");
        DdsnapCli.Result twice = cli.run("create", "vm", "a");
        assertThat(twice.code()).as(twice.toString()).isEqualTo(1);
        assertThat(twice.err()).isEqualTo("ddsnap: snapshot 'a' already exists\n");

        for (String bad : new String[] {"a@b", "a/b"}) {
            DdsnapCli.Result r = cli.run("create", "vm", bad);
            assertThat(r.code()).as(r.toString()).isEqualTo(1);
            assertThat(r.err()).isEqualTo("ddsnap: bad snapshot name '" + bad
                    + "' (use letters, digits, '.', '_' or '-', starting with a letter or digit)\n");
        }
        assertThat(listed()).containsOnlyKeys("a");

        // A snapshot whose export a client holds open is not deleted.
        try (RawClient c = new RawClient(d.address()).go("vm@a", false)) {
            DdsnapCli.Result busy = cli.run("delete", "vm", "a");
            assertThat(busy.code()).as(busy.toString()).isEqualTo(1);
            assertThat(busy.err()).isEqualTo("ddsnap: snapshot a of vm is in use (1 open on vm@a); disconnect its clients first\n");
            assertThat(listed()).containsOnlyKeys("a");
            assertThat(c.read(0, 4096).errno()).isZero();
            c.disconnect();
            assertThat(c.awaitServerClose(Duration.ofSeconds(10))).isTrue();
        }
        assertThat(TestDaemons.await(Duration.ofSeconds(10), () -> d.server().connectionCount() == 0)).isTrue();
        cli.ok("delete", "vm", "a");

        DdsnapCli.Result chunk = cli.run("init", "v2", "--origin", "ram:16M", "--store", "ram:16M", "--chunk-size", "3K");
        assertThat(chunk.code()).as(chunk.toString()).isEqualTo(1);
        assertThat(chunk.err()).isEqualTo("ddsnap: --chunk-size 3K: not a power of two from 4K to 1M\n");

        Path missing = dir.resolve("missing.img");
        DdsnapCli.Result noSize = cli.run("init", "v2", "--origin", "file:" + missing, "--store", "ram:16M");
        assertThat(noSize.code()).as(noSize.toString()).isEqualTo(1);
        assertThat(noSize.err()).isEqualTo("ddsnap: --origin file:" + missing + ": " + missing
                + " does not exist; give its size as file:PATH:SIZE to create it\n");
        assertThat(missing).doesNotExist();

        DdsnapCli.Result usage = cli.run("create", "vm");
        assertThat(usage.code()).as(usage.toString()).isEqualTo(2);
        assertThat(usage.err()).startsWith("ddsnap: Missing required parameter: 'SNAP'\n");

        // Nothing was left behind by the refusals.
        assertThat(exports()).containsExactlyInAnyOrder("r", "vm");

        // A read-only snapshot's export refuses writes, and its data stays.
        TestDaemons.qemuIoOk(uri("vm"), write(0x5a, 0, CHUNK));
        cli.ok("create", "vm", "ro");
        Exec.Result w = TestDaemons.qemuIo(uri("vm@ro"), write(0x66, 0, 4 * K));
        assertThat(w.all()).as(w.describe()).containsIgnoringCase("permission").doesNotContain("wrote ");
        TestDaemons.qemuIoOk(List.of("-r"), uri("vm@ro"), read(0x5a, 0, CHUNK));
    }
}
