package ddtree.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Devices built with ddsetup and stacked: a striped device over two files and a linear device on
 * part of it, both exported; what a client writes through one is read through the other and is
 * found in the files where striping puts it. Then a real ext4 on the striped device.
 */
@Timeout(300)
class StackedDevicesTest {
    static final int MIB = 1 << 20;
    static final int CHUNK = 64 << 10; // 128 sectors

    @TempDir
    Path dir;

    Path a;
    Path b;

    Daemon stripedDaemon(long fileSize) throws Exception {
        a = sparse("a.img", fileSize);
        b = sparse("b.img", fileSize);
        Daemon d = TestDaemons.start(dir, "r=ram:1M");
        DdsetupCli cli = new DdsetupCli(d);
        cli.ok("create", "st", "--table", "0 " + 2 * fileSize / 512 + " striped 2 128 " + a + " 0 " + b + " 0");
        cli.ok("export", "st");
        return d;
    }

    @Test
    void aLinearDeviceOnPartOfAStripedOneSeesTheSameData() throws Exception {
        try (Daemon d = stripedDaemon(32L * MIB)) {
            DdsetupCli cli = new DdsetupCli(d);
            // part = 8 MiB of st starting at 16 MiB
            cli.ok("create", "part", "--table", "0 16384 linear st 32768");
            cli.ok("export", "part", "--as", "p");
            String st = d.uri("st");
            String part = d.uri("p");

            TestDaemons.qemuIoOk(part, "write -P 0xa5 0 1M", "write -P 0x5a 1M 64k", "write -P 0x3c 1234567 5000");
            TestDaemons.qemuIoOk(st, "read -P 0xa5 16M 1M", "read -P 0x5a 17M 64k", "read -P 0x3c 18011783 5000",
                    "read -P 0 16773120 4k", "read -P 0 17891328 8k");
            // Across the end of part from below: only its last 32 KiB belong to it.
            TestDaemons.qemuIoOk(st, "write -P 0x77 25133056 64k");
            TestDaemons.qemuIoOk(part, "read -P 0x77 8355840 32k");
            // A request across many chunks through both layers.
            TestDaemons.qemuIoOk(part, "write -P 0x19 2M 3M");
            TestDaemons.qemuIoOk(st, "read -P 0x19 18M 3M");

            // Striping put chunk k of st in file k % 2 at (k / 2) chunks: st 16 MiB is chunk 256.
            assertFilled(a, 8L * MIB, CHUNK, (byte) 0xa5);
            assertFilled(b, 8L * MIB, CHUNK, (byte) 0xa5);
            // st 18 MiB = chunk 288: a.img at 9 MiB, chunk 289: b.img at 9 MiB.
            assertFilled(a, 9L * MIB, CHUNK, (byte) 0x19);
            assertFilled(b, 9L * MIB, CHUNK, (byte) 0x19);

            assertThat(cli.ok("ls", "--tree").out().lines().toList()).containsSubsequence(
                    "part (8.0 MiB)", " └─st (64.0 MiB)", "    ├─" + a, "    └─" + b);
            JsonNode ls = cli.ok("--json", "ls").json();
            Map<String, JsonNode> byName = new LinkedHashMap<>();
            ls.forEach(n -> byName.put(n.get("name").asText(), n));
            assertThat(byName).containsOnlyKeys("part", "r", "st");
            assertThat(byName.get("st").get("size").asLong()).isEqualTo(64L * MIB);
            assertThat(byName.get("st").get("deps")).extracting(JsonNode::asText).containsExactly(a.toString(), b.toString());
            assertThat(byName.get("st").get("openCount").asInt()).as("part stacks on st").isEqualTo(1);
            assertThat(byName.get("part").get("export").asText()).isEqualTo("p");
            assertThat(byName.get("part").get("deps")).extracting(JsonNode::asText).containsExactly("st");
            JsonNode table = cli.ok("--json", "table", "st").json();
            assertThat(table.get(0).get("lines").get(0).asText())
                    .isEqualTo("0 131072 striped 2 128 " + a + " 0 " + b + " 0");
            assertThat(cli.ok("deps", "part").out()).isEqualTo(" 1 dependencies\t: (st)\n");
        }
    }

    @Test
    void ext4OnTheStripedDeviceIsClean() throws Exception {
        FuseLoop.assumeAvailable();
        Map<String, String> sums = new LinkedHashMap<>();
        try (Daemon d = stripedDaemon(64L * MIB)) {
            try (FuseLoop s = new FuseLoop(d.uri("st"), dir.resolve("fuse1"), dir.resolve("mnt1"))) {
                Exec.run(FuseLoop.T, Tools.require("mkfs.ext4"), "-q", "-F", s.loop).assertOk();
                s.mount(List.of());
                Random rnd = new Random(7);
                int[] sizes = {3 * MIB, 5 * MIB + 123, 200_000, 0};
                for (int i = 0; i < sizes.length; i++) {
                    byte[] data = new byte[sizes[i]];
                    rnd.nextBytes(data);
                    Path f = s.mnt.resolve(i == 1 ? "dir/sub/file" + i : "file" + i);
                    Files.createDirectories(f.getParent());
                    Files.write(f, data);
                    sums.put(s.mnt.relativize(f).toString(), Ext4OverNbdfuseTest.sha256(data));
                }
                Exec.run(FuseLoop.T, "sync").assertOk();
            }
            try (FuseLoop s = new FuseLoop(d.uri("st"), dir.resolve("fuse2"), dir.resolve("mnt2"))) {
                Exec.Result fsck = Exec.run(Duration.ofSeconds(120), Tools.require("e2fsck"), "-fn", s.loop);
                assertThat(fsck.exitCode()).as("e2fsck -fn is clean\n" + fsck.describe()).isZero();
                s.mount(List.of("-o", "ro"));
                for (Map.Entry<String, String> e : sums.entrySet()) {
                    assertThat(Ext4OverNbdfuseTest.sha256(Files.readAllBytes(s.mnt.resolve(e.getKey())))).as(e.getKey())
                            .isEqualTo(e.getValue());
                }
            }
        }
        // Both files took part.
        assertThat(Files.size(a)).isEqualTo(64L * MIB);
        assertThat(allocated(a)).isPositive();
        assertThat(allocated(b)).isPositive();
    }

    private Path sparse(String name, long size) throws Exception {
        Path p = dir.resolve(name);
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(size);
        }
        return p;
    }

    private static long allocated(Path p) throws Exception {
        Exec.Result r = Exec.run(Duration.ofSeconds(10), "du", "-k", p.toString()).assertOk();
        return Long.parseLong(r.out().split("\\s+")[0]);
    }

    private static void assertFilled(Path file, long offset, int length, byte value) throws Exception {
        byte[] got = new byte[length];
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            f.seek(offset);
            f.readFully(got);
        }
        for (int i = 0; i < length; i++) {
            if (got[i] != value) {
                throw new AssertionError(file.getFileName() + " at " + (offset + i) + ": " + got[i] + ", expected " + value);
            }
        }
    }
}
