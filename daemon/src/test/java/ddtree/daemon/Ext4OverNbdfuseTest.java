package ddtree.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real ext4 file system on an export: nbdfuse exposes the export as a file, a loop device
 * turns that into a block device, and the kernel's ext4 does the rest. Files written in one
 * session, with the daemon stopped and started again in between, read back equal in the next,
 * and e2fsck finds the file system clean.
 */
@Timeout(240)
class Ext4OverNbdfuseTest {
    static final Duration T = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    @Test
    void filesSurviveUnmountAndDaemonRestart() throws Exception {
        FuseLoop.assumeAvailable();

        Path image = dir.resolve("ext4.img");
        String device = "fs=file:" + image + ":128M";
        Map<String, String> sums = new LinkedHashMap<>();

        try (Daemon daemon = TestDaemons.start(dir, device)) {
            try (FuseLoop s = new FuseLoop(daemon.uri("fs"), dir.resolve("fuse1"), dir.resolve("mnt1"))) {
                Exec.run(T, Tools.require("mkfs.ext4"), "-q", "-F", s.loop).assertOk();
                s.mount(List.of());
                Random rnd = new Random(42);
                int[] sizes = {3 << 20, 5 << 20, 1 << 20, 12345, 0};
                for (int i = 0; i < sizes.length; i++) {
                    byte[] data = new byte[sizes[i]];
                    rnd.nextBytes(data);
                    Path f = s.mnt.resolve(i == 2 ? "sub/dir/file" + i : "file" + i);
                    Files.createDirectories(f.getParent());
                    Files.write(f, data);
                    sums.put(s.mnt.relativize(f).toString(), sha256(data));
                }
                Exec.run(T, "sync").assertOk();
            }
        }
        assertThat(sums).hasSize(5);

        try (Daemon daemon = TestDaemons.start(dir, device)) {
            try (FuseLoop s = new FuseLoop(daemon.uri("fs"), dir.resolve("fuse2"), dir.resolve("mnt2"))) {
                Exec.Result fsck = Exec.run(Duration.ofSeconds(120), Tools.require("e2fsck"), "-fn", s.loop);
                assertThat(fsck.exitCode()).as("e2fsck -fn is clean\n" + fsck.describe()).isZero();
                assertThat(fsck.out()).as(fsck.describe()).contains("Pass 5").containsPattern("\\d+/\\d+ files");
                s.mount(List.of("-o", "ro"));
                for (Map.Entry<String, String> e : sums.entrySet()) {
                    Path f = s.mnt.resolve(e.getKey());
                    assertThat(sha256(Files.readAllBytes(f))).as(e.getKey()).isEqualTo(e.getValue());
                }
                try (var listing = Files.walk(s.mnt)) {
                    assertThat(listing.filter(Files::isRegularFile).count()).isEqualTo(sums.size());
                }
            }
        }
    }

    static String sha256(byte[] data) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    }
}
