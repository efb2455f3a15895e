package ddtree.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * An export as a kernel block device: nbdfuse shows it as a file, a loop device turns the file
 * into a block device, and it may be mounted. Closing undoes all three in reverse order, whatever
 * happened in between.
 */
final class FuseLoop implements AutoCloseable {
    static final Duration T = Duration.ofSeconds(60);

    /** Skips the calling test unless nbdfuse, loop devices, ext4 tools and root are all there. */
    static void assumeAvailable() {
        Tools.requireAll("nbdfuse", "losetup", "mkfs.ext4", "e2fsck", "fusermount3", "mount", "umount");
        Tools.requireRoot("mounting a loop device");
        assumeTrue(Files.exists(Path.of("/dev/fuse")), "skipped: /dev/fuse is absent");
        assumeTrue(Files.exists(Path.of("/dev/loop-control")) || Files.exists(Path.of("/dev/loop0")),
                "skipped: no loop devices (/dev/loop-control is absent)");
    }

    final Path fuseDir;
    final Path mnt;
    final Path log;
    final Process fuse;
    String loop;
    boolean mounted;

    FuseLoop(String uri, Path fuseDir, Path mnt) throws Exception {
        this(uri, fuseDir, mnt, false);
    }

    /** As above; {@code readOnly} opens the export read-only and makes a read-only loop device. */
    FuseLoop(String uri, Path fuseDir, Path mnt, boolean readOnly) throws Exception {
        this.fuseDir = Files.createDirectories(fuseDir);
        this.mnt = Files.createDirectories(mnt);
        this.log = fuseDir.resolveSibling(fuseDir.getFileName() + ".log");
        List<String> nbdfuse = new ArrayList<>(List.of(Tools.require("nbdfuse")));
        if (readOnly) {
            nbdfuse.add("--readonly");
        }
        nbdfuse.addAll(List.of(fuseDir.toString(), uri));
        fuse = Exec.start(null, log, nbdfuse);
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
            List<String> losetup = new ArrayList<>(List.of(Tools.require("losetup"), "--find", "--show"));
            if (readOnly) {
                losetup.add("--read-only");
            }
            losetup.add(file.toString());
            Exec.Result r = Exec.run(T, losetup);
            assumeTrue(r.ok(), () -> "skipped: no free loop device: " + r.err().strip());
            loop = r.out().strip();
        } catch (Throwable t) {
            close();
            throw t;
        }
    }

    void mount(List<String> options) {
        List<String> cmd = new ArrayList<>(List.of(Tools.require("mount"), "-t", "ext4"));
        cmd.addAll(options);
        cmd.add(loop);
        cmd.add(mnt.toString());
        Exec.run(T, cmd).assertOk();
        mounted = true;
    }

    String log() {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(no log)";
        }
    }

    @Override
    public void close() throws Exception {
        try {
            if (mounted) {
                if (!Exec.run(T, Tools.require("umount"), mnt.toString()).ok()) {
                    Exec.run(T, Tools.require("umount"), "-l", mnt.toString());
                }
            }
        } finally {
            try {
                if (loop != null) {
                    Exec.run(T, Tools.require("losetup"), "-d", loop);
                }
            } finally {
                try {
                    String fusermount = Tools.require("fusermount3");
                    Exec.run(T, fusermount, "-u", fuseDir.toString());
                    if (!fuse.waitFor(20, TimeUnit.SECONDS)) {
                        Exec.run(T, fusermount, "-u", "-z", fuseDir.toString());
                    }
                } finally {
                    Exec.kill(fuse);
                }
            }
        }
    }
}
