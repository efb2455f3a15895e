package ddtree.daemon;

import static ddtree.daemon.TestDaemons.CLIENT_TIMEOUT;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** nbdinfo: the export list, sizes, the allocation map after a trim, and the advertised flags. */
@Timeout(120)
class NbdinfoTest {
    @TempDir
    Path dir;

    Daemon daemon;
    String nbdinfo;

    @BeforeEach
    void start() throws Exception {
        nbdinfo = Tools.require("nbdinfo");
        daemon = TestDaemons.start(dir, List.of("golden"),
                "ram=ram:16M", "file=file:" + dir.resolve("file.img") + ":32M", "golden=ram:1M");
    }

    @AfterEach
    void stop() throws Exception {
        if (daemon != null) {
            daemon.close();
        }
    }

    private String server() {
        String uri = daemon.uri("");
        return uri.substring(0, uri.length() - 1);
    }

    @Test
    void listShowsEveryExport() {
        Exec.Result r = Exec.run(CLIENT_TIMEOUT, nbdinfo, "--list", server()).assertOk();
        Set<String> names = new TreeSet<>();
        Matcher m = Pattern.compile("export=\"([^\"]*)\"").matcher(r.out());
        while (m.find()) {
            names.add(m.group(1));
        }
        assertThat(names).as(r.describe()).containsExactly("file", "golden", "ram");
        assertThat(r.out()).contains("description: ram").contains("description: file " + dir.resolve("file.img"));
    }

    @Test
    void sizes() {
        assertThat(size(daemon.uri("ram"))).isEqualTo(16L << 20);
        assertThat(size(daemon.uri("file"))).isEqualTo(32L << 20);
        assertThat(size(daemon.uri("golden"))).isEqualTo(1L << 20);
        // The empty name is the default export: the first device given.
        assertThat(size(server())).isEqualTo(16L << 20);
    }

    private long size(String uri) {
        Exec.Result r = Exec.run(CLIENT_TIMEOUT, nbdinfo, "--size", uri).assertOk();
        return Long.parseLong(r.out().strip());
    }

    @Test
    void anUnknownExportIsRefused() {
        Exec.Result r = Exec.run(CLIENT_TIMEOUT, nbdinfo, "--size", daemon.uri("nosuch"));
        assertThat(r.exitCode()).as(r.describe()).isNotZero();
        assertThat(r.err()).as(r.describe()).containsIgnoringCase("nosuch");
    }

    /** One line of {@code nbdinfo --map}: offset, length, type and its description. */
    record Extent(long offset, long length, int type, String description) {
        long end() {
            return offset + length;
        }
    }

    static List<Extent> parseMap(String out) {
        List<Extent> extents = new ArrayList<>();
        Pattern line = Pattern.compile("^\\s*(\\d+)\\s+(\\d+)\\s+(\\d+)\\s+(.*)$");
        for (String l : out.lines().toList()) {
            Matcher m = line.matcher(l);
            if (m.matches()) {
                extents.add(new Extent(Long.parseLong(m.group(1)), Long.parseLong(m.group(2)),
                        Integer.parseInt(m.group(3)), m.group(4).strip()));
            }
        }
        return extents;
    }

    /** The extents overlapping {@code [from, to)}. */
    static List<Extent> covering(List<Extent> map, long from, long to) {
        return map.stream().filter(e -> e.offset() < to && e.end() > from).toList();
    }

    @ParameterizedTest
    @ValueSource(strings = {"ram", "file"})
    void mapShowsTheHoleATrimLeft(String name) {
        String uri = daemon.uri(name);
        TestDaemons.qemuIoOk(uri, "write -P 0x99 0 4M", "discard 1M 1M");
        Exec.Result r = Exec.run(CLIENT_TIMEOUT, nbdinfo, "--map", uri).assertOk();
        List<Extent> map = parseMap(r.out());
        assertThat(map).as(r.describe()).isNotEmpty();
        // The map covers the device from 0 to its end without gaps.
        assertThat(map.getFirst().offset()).isZero();
        for (int i = 1; i < map.size(); i++) {
            assertThat(map.get(i).offset()).as(r.describe()).isEqualTo(map.get(i - 1).end());
        }
        assertThat(map.getLast().end()).isEqualTo(size(uri));

        long mib = 1 << 20;
        assertThat(covering(map, 0, mib)).as("first MiB is data\n" + r.out())
                .allMatch(e -> e.type() == 0 && e.description().equals("data"));
        assertThat(covering(map, mib, 2 * mib)).as("trimmed MiB is a hole\n" + r.out())
                .allMatch(e -> (e.type() & 1) != 0 && e.description().contains("hole"));
        assertThat(covering(map, 2 * mib, 4 * mib)).as("MiB 2-4 are data\n" + r.out())
                .allMatch(e -> e.type() == 0);
        // And the trimmed range reads back as zeroes, the rest as written.
        TestDaemons.qemuIoOk(uri, "read -P 0x99 0 1M", "read -P 0 1M 1M", "read -P 0x99 2M 2M");
    }

    @Test
    void jsonShowsFlagsAndBlockSizes() {
        String golden = Exec.run(CLIENT_TIMEOUT, nbdinfo, "--json", daemon.uri("golden")).assertOk().out();
        assertThat(jsonValue(golden, "is_read_only")).isEqualTo("true");
        assertThat(jsonValue(golden, "can_multi_conn")).isEqualTo("true");
        assertThat(jsonValue(golden, "block_size_minimum")).isEqualTo("1");
        assertThat(jsonValue(golden, "block_size_preferred")).isEqualTo("4096");
        assertThat(jsonValue(golden, "block_size_maximum")).isEqualTo(String.valueOf(32 << 20));
        assertThat(jsonValue(golden, "export-size")).isEqualTo(String.valueOf(1 << 20));

        String file = Exec.run(CLIENT_TIMEOUT, nbdinfo, "--json", daemon.uri("file")).assertOk().out();
        assertThat(jsonValue(file, "is_read_only")).isEqualTo("false");
        assertThat(jsonValue(file, "can_multi_conn")).isEqualTo("true");
        assertThat(jsonValue(file, "can_flush")).isEqualTo("true");
        assertThat(jsonValue(file, "can_fua")).isEqualTo("true");
        assertThat(jsonValue(file, "can_trim")).isEqualTo("true");
        assertThat(jsonValue(file, "can_zero")).isEqualTo("true");
        assertThat(jsonValue(file, "structured")).isEqualTo("true");
        assertThat(file).contains("\"base:allocation\"");
    }

    /** The value of the first {@code "key": value} in nbdinfo's JSON (flat scalars only). */
    static String jsonValue(String json, String key) {
        Matcher m = Pattern.compile("\"" + Pattern.quote(key) + "\"\\s*:\\s*(\"[^\"]*\"|[^,}\\s]+)").matcher(json);
        assertThat(m.find()).as("key " + key + " in\n" + json).isTrue();
        return m.group(1);
    }
}
