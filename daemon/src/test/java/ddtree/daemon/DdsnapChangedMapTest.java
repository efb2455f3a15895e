package ddtree.daemon;

import static ddtree.daemon.TestDaemons.CLIENT_TIMEOUT;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import ddtree.ddlink.Json;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code ddtree:changed:OTHER} NBD meta contexts of a ddsnap volume, read with nbdinfo: flag 1
 * marks exactly the chunks written between two snapshots, or since a snapshot on the volume.
 */
@Timeout(120)
class DdsnapChangedMapTest {
    static final int CHUNK = 64 << 10;
    static final long SIZE = 4L << 20;
    static final long CHUNKS = SIZE / CHUNK;

    /** Chunks written after snapshot a and before b: whole, in part, across a boundary, zeroed, trimmed. */
    static final Set<Long> A_TO_B = Set.of(0L, 3L, 7L, 10L, 11L, 12L, 14L);
    /** Chunks written to the volume after snapshot b. */
    static final Set<Long> AFTER_B = Set.of(3L, 20L, 40L, 41L, 63L);

    @TempDir
    static Path dir;

    static Daemon daemon;
    static String nbdinfo;

    @BeforeAll
    static void start() throws Exception {
        nbdinfo = Tools.require("nbdinfo");
        Tools.require("qemu-io");
        daemon = TestDaemons.start(dir, "spare=ram:1M");
        DdsnapCli cli = new DdsnapCli(daemon);
        cli.ok("init", "vm", "--origin", "file:" + dir.resolve("vm.img") + ":" + SIZE,
                "--store", "file:" + dir.resolve("vm.snap") + ":32M", "--chunk-size", "64K");
        String vm = daemon.uri("vm");
        TestDaemons.qemuIoOk(vm, "write -P 0x01 0 128k", "write -P 0x02 " + at(5) + " 64k",
                "write -P 0x03 " + at(12) + " 64k", "write -P 0x04 " + at(14) + " 64k");
        cli.ok("create", "vm", "a");
        TestDaemons.qemuIoOk(vm,
                "write -P 0x11 512 512", // chunk 0, in part
                "write -P 0x12 " + at(3) + " 64k", // chunk 3, whole
                "write -P 0x13 " + (at(7) + 4096) + " 4k", // chunk 7, in part
                "write -P 0x14 " + (at(10) + CHUNK / 2) + " 64k", // chunks 10 and 11
                "write -z " + at(12) + " 64k", // chunk 12, zeroes over data
                "discard " + at(14) + " 64k"); // chunk 14, trimmed
        cli.ok("create", "vm", "b");
        TestDaemons.qemuIoOk(vm, "write -P 0x21 " + at(3) + " 4k", "write -P 0x22 " + at(20) + " 64k",
                "write -P 0x23 " + (at(41) - 512) + " 1k", "write -P 0x24 " + (SIZE - 512) + " 512");
    }

    @AfterAll
    static void stop() throws Exception {
        if (daemon != null) {
            daemon.close();
        }
    }

    static long at(long chunk) {
        return chunk * CHUNK;
    }

    static final Pattern MAP_LINE = Pattern.compile("^\\s*(\\d+)\\s+(\\d+)\\s+(\\d+)(\\s.*)?$");

    record Extent(long offset, long length, int type) {
        long end() {
            return offset + length;
        }
    }

    /**
     * The chunks {@code nbdinfo --map=CONTEXT} marks with flag 1 on {@code export}; fails unless the
     * extents cover the export from 0 to its end without gaps, each whole chunks with flag 0 or 1.
     */
    static Set<Long> changed(String context, String export) {
        Exec.Result r = Exec.run(CLIENT_TIMEOUT, nbdinfo, "--map=" + context, daemon.uri(export)).assertOk();
        List<Extent> map = new ArrayList<>();
        for (String line : r.out().lines().toList()) {
            // offset, length, flags, and a description for the contexts nbdinfo knows
            Matcher m = MAP_LINE.matcher(line);
            assertThat(m.matches()).as("a map line: '" + line + "'\n" + r.describe()).isTrue();
            map.add(new Extent(Long.parseLong(m.group(1)), Long.parseLong(m.group(2)), Integer.parseInt(m.group(3))));
        }
        assertThat(map).as(r.describe()).isNotEmpty();
        Set<Long> chunks = new TreeSet<>();
        long pos = 0;
        for (Extent e : map) {
            assertThat(e.offset()).as("extents without gaps\n" + r.out()).isEqualTo(pos);
            assertThat(e.type()).as("flag of " + e + "\n" + r.out()).isIn(0, 1);
            assertThat(e.offset() % CHUNK).as("extent on chunk boundaries\n" + r.out()).isZero();
            assertThat(e.length() % CHUNK).as("extent of whole chunks\n" + r.out()).isZero();
            if (e.type() == 1) {
                for (long c = e.offset() / CHUNK; c < e.end() / CHUNK; c++) {
                    chunks.add(c);
                }
            }
            pos = e.end();
        }
        assertThat(pos).as("the map covers the export\n" + r.out()).isEqualTo(SIZE);
        return chunks;
    }

    static Set<Long> union(Set<Long> x, Set<Long> y) {
        Set<Long> u = new TreeSet<>(x);
        u.addAll(y);
        return u;
    }

    @Test
    void betweenTwoSnapshotsTheMapMarksExactlyTheChunksWritten() {
        assertThat(changed("ddtree:changed:a", "vm@b")).isEqualTo(new TreeSet<>(A_TO_B));
        assertThat(changed("ddtree:changed:b", "vm@a")).as("the same seen from a").isEqualTo(new TreeSet<>(A_TO_B));
    }

    @Test
    void againstTheOriginTheMapMarksTheChunksWrittenSinceTheSnapshot() {
        assertThat(changed("ddtree:changed:@origin", "vm@a")).isEqualTo(union(A_TO_B, AFTER_B));
        assertThat(changed("ddtree:changed:@origin", "vm@b")).isEqualTo(new TreeSet<>(AFTER_B));
    }

    @Test
    void theVolumesExportHasAMapPerSnapshot() {
        assertThat(changed("ddtree:changed:b", "vm")).isEqualTo(new TreeSet<>(AFTER_B));
        assertThat(changed("ddtree:changed:a", "vm")).isEqualTo(union(A_TO_B, AFTER_B));
        assertThat(CHUNKS).isEqualTo(64);
    }

    static List<String> contexts(JsonNode export) {
        List<String> names = new ArrayList<>();
        export.path("contexts").forEach(c -> names.add(c.asText()));
        return names;
    }

    @Test
    void theContextsAreListedAndAnUnknownSnapshotIsNotOffered() throws Exception {
        String uri = daemon.uri("");
        String server = uri.substring(0, uri.length() - 1);
        Exec.Result list = Exec.run(CLIENT_TIMEOUT, nbdinfo, "--list", "--json", server).assertOk();
        JsonNode exports = Json.MAPPER.readTree(list.out()).path("exports");
        List<String> names = new ArrayList<>();
        for (JsonNode e : exports) {
            String name = e.path("export-name").asText();
            names.add(name);
            switch (name) {
                case "vm" -> assertThat(contexts(e)).as(list.out())
                        .containsExactlyInAnyOrder("base:allocation", "ddtree:changed:a", "ddtree:changed:b");
                case "vm@a" -> assertThat(contexts(e)).as(list.out())
                        .containsExactlyInAnyOrder("base:allocation", "ddtree:changed:@origin", "ddtree:changed:b");
                case "vm@b" -> assertThat(contexts(e)).as(list.out())
                        .containsExactlyInAnyOrder("base:allocation", "ddtree:changed:@origin", "ddtree:changed:a");
                default -> assertThat(contexts(e)).as(list.out()).noneMatch(c -> c.startsWith("ddtree:"));
            }
        }
        assertThat(names).contains("vm", "vm@a", "vm@b");

        Exec.Result one = Exec.run(CLIENT_TIMEOUT, nbdinfo, "--json", daemon.uri("vm@b")).assertOk();
        JsonNode b = Json.MAPPER.readTree(one.out()).path("exports").get(0);
        assertThat(contexts(b)).as(one.out()).contains("ddtree:changed:a").doesNotContain("ddtree:changed:b");

        for (String[] bad : new String[][] {{"ddtree:changed:nosuch", "vm@b"}, {"ddtree:changed:b", "vm@b"},
            {"ddtree:changed:@origin", "vm"}, {"ddtree:changed:", "vm@b"}}) {
            Exec.Result r = Exec.run(CLIENT_TIMEOUT, nbdinfo, "--map=" + bad[0], daemon.uri(bad[1]));
            assertThat(r.exitCode()).as(r.describe()).isNotZero();
            assertThat(r.err()).as(r.describe()).contains("does not support metadata context \"" + bad[0] + "\"");
        }
    }
}
