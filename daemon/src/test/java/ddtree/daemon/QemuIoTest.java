package ddtree.daemon;

import static ddtree.daemon.TestDaemons.qemuIo;
import static ddtree.daemon.TestDaemons.qemuIoOk;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** qemu-io against a RAM device and a file device: patterns written are the patterns read. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(120)
class QemuIoTest {
    static final long SIZE = 16L << 20;

    @TempDir
    static Path dir;

    Daemon daemon;

    @BeforeAll
    void startDaemon() throws Exception {
        Tools.require("qemu-io");
        daemon = TestDaemons.start(dir, "ram=ram:16M", "file=file:" + dir.resolve("file.img") + ":16M");
    }

    @AfterAll
    void stopDaemon() throws Exception {
        if (daemon != null) {
            daemon.close();
        }
    }

    @BeforeEach
    void zeroDevices() {
        for (String name : new String[] {"ram", "file"}) {
            qemuIoOk(daemon.uri(name), "write -z 0 16M");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"ram", "file"})
    void writtenPatternReadsBack(String name) {
        String uri = daemon.uri(name);
        qemuIoOk(uri, "write -P 0xab 0 64k", "read -P 0xab 0 64k");
        // A new connection sees it too, and the bytes after it are still zero.
        qemuIoOk(uri, "read -P 0xab 0 64k", "read -P 0 64k 64k");
    }

    @ParameterizedTest
    @ValueSource(strings = {"ram", "file"})
    void unalignedWritesLeaveTheirNeighboursAlone(String name) {
        String uri = daemon.uri(name);
        qemuIoOk(uri,
                "write -P 0x5a 1000 3000",
                "write -P 0x77 65000 2000", // across a 64 KiB boundary
                "write -P 0x33 " + (SIZE - 1000) + " 1000"); // the last bytes of the device
        qemuIoOk(uri,
                "read -P 0 0 1000",
                "read -P 0x5a 1000 3000",
                "read -P 0 4000 61000",
                "read -P 0x77 65000 2000",
                "read -P 0 67000 1000",
                "read -P 0 " + (SIZE - 5096) + " 4096",
                "read -P 0x33 " + (SIZE - 1000) + " 1000");
    }

    @ParameterizedTest
    @ValueSource(strings = {"ram", "file"})
    void zeroesFuaAndFlush(String name) {
        String uri = daemon.uri(name);
        qemuIoOk(uri,
                "write -P 0xee 0 64k",
                "write -z 4k 8k", // WRITE_ZEROES
                "write -z -u 32k 4k", // WRITE_ZEROES that may punch a hole
                "write -f -P 0x42 40k 512", // FUA
                "flush");
        qemuIoOk(uri,
                "read -P 0xee 0 4k",
                "read -P 0 4k 8k",
                "read -P 0xee 12k 20k",
                "read -P 0 32k 4k",
                "read -P 0xee 36k 4k",
                "read -P 0x42 40k 512",
                "read -P 0xee 41472 24064");
    }

    @Test
    void aWrongPatternIsReported() {
        // The checks above are only worth something if a mismatch does show: write one pattern,
        // expect another, and qemu-io must say so.
        String uri = daemon.uri("ram");
        qemuIoOk(uri, "write -P 0xab 0 64k");
        Exec.Result r = qemuIo(uri, "read -P 0xcd 0 64k");
        assertThat(r.all()).as(r.describe()).contains("Pattern verification failed");
        Exec.Result partial = qemuIo(uri, "read -P 0xab 0 65537");
        assertThat(partial.all()).as(partial.describe()).contains("Pattern verification failed");
    }

    @Test
    void manyRequestsInOneSessionAtQueueDepth() {
        // aio_write queues requests without waiting, so several are in flight at once.
        String uri = daemon.uri("file");
        String[] cmds = new String[33];
        for (int i = 0; i < 32; i++) {
            cmds[i] = "aio_write -P " + (i + 1) + " " + (i * 128 * 1024) + " 128k";
        }
        cmds[32] = "aio_flush";
        Exec.Result w = qemuIo(uri, cmds).assertOk();
        assertThat(w.all()).doesNotContainIgnoringCase("error");
        String[] reads = new String[32];
        for (int i = 0; i < 32; i++) {
            reads[i] = "read -P " + (i + 1) + " " + (i * 128 * 1024) + " 128k";
        }
        qemuIoOk(uri, reads);
    }
}
