package ddtree.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real ext4 on a ddsnap volume made with {@code ddsnap init}: a snapshot taken between two
 * sessions of changes, mounted read-only from its own export, shows the files as they were, while
 * the volume shows them as they are; e2fsck finds both clean.
 */
@Timeout(300)
class DdsnapExt4Test {
    static final Duration FSCK = Duration.ofSeconds(120);

    @TempDir
    Path dir;

    @Test
    void aSnapshotMountsWithTheOldFilesAndTheVolumeWithTheNew() throws Exception {
        FuseLoop.assumeAvailable();
        Random rnd = new Random(11);
        Map<String, String> before = new TreeMap<>();
        Map<String, String> after;
        try (Daemon d = TestDaemons.start(dir, "r=ram:1M")) {
            DdsnapCli cli = new DdsnapCli(d);
            cli.ok("init", "vm", "--origin", "file:" + dir.resolve("vm.img") + ":128M",
                    "--store", "file:" + dir.resolve("vm.store") + ":128M");

            try (FuseLoop s = new FuseLoop(d.uri("vm"), dir.resolve("fuse1"), dir.resolve("mnt1"))) {
                Exec.run(FuseLoop.T, Tools.require("mkfs.ext4"), "-q", "-F", s.loop).assertOk();
                s.mount(List.of());
                put(s.mnt, "keep", rnd, 3 << 20, before);
                put(s.mnt, "change", rnd, 2 << 20, before);
                put(s.mnt, "remove", rnd, 1 << 20, before);
                put(s.mnt, "dir/sub/small", rnd, 12345, before);
                put(s.mnt, "empty", rnd, 0, before);
                Exec.run(FuseLoop.T, "sync").assertOk();
            }
            assertThat(cli.ok("create", "vm", "before").out())
                    .isEqualTo("snapshot before of vm (id 1), exported read-only as vm@before\n");

            after = new TreeMap<>(before);
            try (FuseLoop s = new FuseLoop(d.uri("vm"), dir.resolve("fuse2"), dir.resolve("mnt2"))) {
                s.mount(List.of());
                assertThat(sums(s.mnt)).isEqualTo(before);
                put(s.mnt, "change", rnd, 5 << 20, after); // rewritten, larger
                Files.delete(s.mnt.resolve("remove"));
                after.remove("remove");
                put(s.mnt, "dir/sub/small", rnd, 999, after); // rewritten, smaller
                put(s.mnt, "added/new", rnd, 4 << 20, after);
                Exec.run(FuseLoop.T, "sync").assertOk();
            }
            assertThat(after).isNotEqualTo(before);

            // The snapshot, from an nbdfuse of its own: clean, and the files as they were.
            try (FuseLoop s = new FuseLoop(d.uri("vm@before"), dir.resolve("fuse3"), dir.resolve("mnt3"), true)) {
                assertClean(s);
                s.mount(List.of("-o", "ro,noload"));
                assertThat(sums(s.mnt)).isEqualTo(before);
            }
            // The volume: clean, and the files as they are now.
            try (FuseLoop s = new FuseLoop(d.uri("vm"), dir.resolve("fuse4"), dir.resolve("mnt4"))) {
                assertClean(s);
                s.mount(List.of("-o", "ro"));
                assertThat(sums(s.mnt)).isEqualTo(after);
            }

            // The second session's changes were copied out for the snapshot.
            assertThat(cli.ok("status", "vm", "--json").json().path("storeChunksUsed").asLong()).isPositive();
        }
    }

    static void assertClean(FuseLoop s) {
        Exec.Result fsck = Exec.run(FSCK, Tools.require("e2fsck"), "-fn", s.loop);
        assertThat(fsck.exitCode()).as("e2fsck -fn is clean\n" + fsck.describe()).isZero();
        assertThat(fsck.out()).as(fsck.describe()).contains("Pass 5").containsPattern("\\d+/\\d+ files");
    }

    /** Writes {@code size} random bytes to {@code mnt/rel} and records their checksum. */
    static void put(Path mnt, String rel, Random rnd, int size, Map<String, String> sums) throws Exception {
        byte[] data = new byte[size];
        rnd.nextBytes(data);
        Path f = mnt.resolve(rel);
        Files.createDirectories(f.getParent());
        Files.write(f, data);
        sums.put(rel, Ext4OverNbdfuseTest.sha256(data));
    }

    /** Every regular file under {@code mnt} (lost+found aside) with its checksum. */
    static Map<String, String> sums(Path mnt) throws Exception {
        Map<String, String> out = new LinkedHashMap<>();
        try (Stream<Path> all = Files.walk(mnt)) {
            for (Path f : all.filter(Files::isRegularFile).sorted().toList()) {
                String rel = mnt.relativize(f).toString();
                if (!rel.startsWith("lost+found/")) {
                    out.put(rel, Ext4OverNbdfuseTest.sha256(Files.readAllBytes(f)));
                }
            }
        }
        return new TreeMap<>(out);
    }
}
