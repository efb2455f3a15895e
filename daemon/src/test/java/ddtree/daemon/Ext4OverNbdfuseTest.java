package ddtree.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
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

    String nbdfuse;
    String losetup;
    String fusermount;
    String mount;
    String umount;

    @Test
    void filesSurviveUnmountAndDaemonRestart() throws Exception {
        Tools.requireAll("nbdfuse", "losetup", "mkfs.ext4", "e2fsck", "fusermount3", "mount", "umount");
        Tools.requireRoot("mounting a loop device");
        assumeTrue(Files.exists(Path.of("/dev/fuse")), "skipped: /dev/fuse is absent");
        assumeTrue(Files.exists(Path.of("/dev/loop-control")) || Files.exists(Path.of("/dev/loop0")),
                "skipped: no loop devices (/dev/loop-control is absent)");
        nbdfuse = Tools.require("nbdfuse");
        losetup = Tools.require("losetup");
        fusermount = Tools.require("fusermount3");
        mount = Tools.require("mount");
        umount = Tools.require("umount");

        Path image = dir.resolve("ext4.img");
        String device = "fs=file:" + image + ":128M";
        Map<String, String> sums = new LinkedHashMap<>();

        try (Daemon daemon = TestDaemons.start(dir, device)) {
            try (Session s = new Session(daemon.uri("fs"), dir.resolve("fuse1"), dir.resolve("mnt1"))) {
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
            try (Session s = new Session(daemon.uri("fs"), dir.resolve("fuse2"), dir.resolve("mnt2"))) {
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

    /**
     * nbdfuse on a directory, a loop device on its file, and maybe a mount; closing undoes all
     * three in reverse order, whatever happened in between.
     */
    final class Session implements AutoCloseable {
        final Path fuseDir;
        final Path mnt;
        final Process fuse;
        String loop;
        boolean mounted;

        Session(String uri, Path fuseDir, Path mnt) throws Exception {
            this.fuseDir = Files.createDirectories(fuseDir);
            this.mnt = Files.createDirectories(mnt);
            fuse = Exec.start(null, dir.resolve(fuseDir.getFileName() + ".log"), List.of(nbdfuse, fuseDir.toString(), uri));
            try {
                Path file = fuseDir.resolve("nbd");
                boolean up = TestDaemons.await(Duration.ofSeconds(20), () -> {
                    try {
                        return Files.isRegularFile(file) && Files.size(file) > 0;
                    } catch (IOException e) {
                        return false;
                    }
                });
                assertThat(up).as("nbdfuse shows " + file + "; log:\n" + log()).isTrue();
                Exec.Result r = Exec.run(T, losetup, "--find", "--show", file.toString());
                assumeTrue(r.ok(), () -> "skipped: no free loop device: " + r.err().strip());
                loop = r.out().strip();
            } catch (Throwable t) {
                close();
                throw t;
            }
        }

        void mount(List<String> options) {
            List<String> cmd = new java.util.ArrayList<>(List.of(mount, "-t", "ext4"));
            cmd.addAll(options);
            cmd.add(loop);
            cmd.add(mnt.toString());
            Exec.run(T, cmd).assertOk();
            mounted = true;
        }

        String log() {
            try {
                return Files.readString(dir.resolve(fuseDir.getFileName() + ".log"));
            } catch (IOException e) {
                return "(no log)";
            }
        }

        @Override
        public void close() throws Exception {
            try {
                if (mounted) {
                    if (!Exec.run(T, umount, mnt.toString()).ok()) {
                        Exec.run(T, umount, "-l", mnt.toString());
                    }
                }
            } finally {
                try {
                    if (loop != null) {
                        Exec.run(T, losetup, "-d", loop);
                    }
                } finally {
                    try {
                        Exec.run(T, fusermount, "-u", fuseDir.toString());
                        if (!fuse.waitFor(20, java.util.concurrent.TimeUnit.SECONDS)) {
                            Exec.run(T, fusermount, "-u", "-z", fuseDir.toString());
                        }
                    } finally {
                        Exec.kill(fuse);
                    }
                }
            }
        }
    }

    static String sha256(byte[] data) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    }
}
