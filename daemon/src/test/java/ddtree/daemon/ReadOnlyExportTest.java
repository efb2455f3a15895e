package ddtree.daemon;

import static ddtree.daemon.TestDaemons.qemuIo;
import static ddtree.daemon.TestDaemons.qemuIoOk;
import static org.assertj.core.api.Assertions.assertThat;

import ddtree.nbd.NbdProtocol;
import ddtree.nbd.RawClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** A --read-only export refuses every change, and its data stays as it was. */
@Timeout(120)
class ReadOnlyExportTest {
    static final int EPERM = 1;
    static final int SIZE = 1 << 20;

    @TempDir
    Path dir;

    Path image;
    String before;
    Daemon daemon;

    @BeforeEach
    void start() throws Exception {
        image = dir.resolve("golden.img");
        byte[] data = new byte[SIZE];
        Arrays.fill(data, (byte) 0x42);
        Files.write(image, data);
        before = sha256(image);
        daemon = TestDaemons.start(dir, List.of("golden"), "golden=file:" + image, "scratch=ram:1M");
    }

    @AfterEach
    void stop() throws Exception {
        if (daemon != null) {
            daemon.close();
        }
    }

    @Test
    void qemuIoCannotWrite() throws Exception {
        Tools.require("qemu-io");
        String uri = daemon.uri("golden");
        Exec.Result w = qemuIo(uri, "write -P 0xff 0 64k");
        assertThat(w.exitCode()).as(w.describe()).isNotZero();
        // qemu refuses at open ("Permission denied") because the export says it is read-only;
        // a client that writes anyway gets EPERM, checked below with a raw client.
        assertThat(w.all()).as(w.describe()).containsAnyOf("Operation not permitted", "Permission denied", "read-only");
        assertThat(w.all()).doesNotContain("wrote ");
        qemuIoOk(List.of("-r"), uri, "read -P 0x42 0 1M");
        assertThat(sha256(image)).isEqualTo(before);
    }

    @Test
    void writesTrimsAndZeroesGetEperm() throws Exception {
        try (RawClient c = new RawClient(daemon.address()).go("golden", false)) {
            assertThat(c.exportSize).isEqualTo(SIZE);
            assertThat(c.transmissionFlags & NbdProtocol.FLAG_READ_ONLY).as("read-only flag").isNotZero();
            assertThat(c.write(0, new byte[4096])).as("WRITE errno").isEqualTo(EPERM);
            assertThat(c.command(NbdProtocol.CMD_TRIM, 0, 65536)).as("TRIM errno").isEqualTo(EPERM);
            assertThat(c.command(NbdProtocol.CMD_WRITE_ZEROES, 0, 65536)).as("WRITE_ZEROES errno").isEqualTo(EPERM);
            // The connection goes on after the refusals, and reads still work.
            RawClient.Reply r = c.read(0, 4096);
            assertThat(r.errno()).isZero();
            byte[] expected = new byte[4096];
            Arrays.fill(expected, (byte) 0x42);
            assertThat(r.data()).isEqualTo(expected);
            c.disconnect();
        }
        assertThat(sha256(image)).isEqualTo(before);
    }

    @Test
    void theOtherExportStaysWritable() throws Exception {
        Tools.require("qemu-io");
        qemuIoOk(daemon.uri("scratch"), "write -P 0x17 0 64k", "read -P 0x17 0 64k");
    }

    static String sha256(Path file) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }
}
