package ddtree.daemon;

import static ddtree.daemon.TestDaemons.CLIENT_TIMEOUT;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** qemu-img copies an image into an export and back out, byte for byte. */
@Timeout(120)
class QemuImgConvertTest {
    static final int SIZE = 8 << 20;

    @TempDir
    Path dir;

    Daemon daemon;

    @BeforeEach
    void start() throws Exception {
        daemon = TestDaemons.start(dir, "ram=ram:8M", "file=file:" + dir.resolve("dev.img") + ":8M");
    }

    @AfterEach
    void stop() throws Exception {
        if (daemon != null) {
            daemon.close();
        }
    }

    @Test
    void convertInAndOutOfARamExport() throws Exception {
        roundTrip("ram", 1);
    }

    @Test
    void convertInAndOutOfAFileExport() throws Exception {
        roundTrip("file", 2);
    }

    private void roundTrip(String name, long seed) throws Exception {
        String qemuImg = Tools.require("qemu-img");
        String uri = daemon.uri(name);
        // Start from non-zero contents so the zero runs of the image must really be written.
        TestDaemons.qemuIoOk(uri, "write -P 0xff 0 8M");

        Path in = dir.resolve("in.raw");
        byte[] data = Images.write(in, SIZE, seed);
        Exec.Result info = Exec.run(CLIENT_TIMEOUT, qemuImg, "info", "-f", "raw", uri).assertOk();
        assertThat(info.out()).as(info.describe()).contains("virtual size: 8 MiB (8388608 bytes)");

        Exec.run(CLIENT_TIMEOUT, qemuImg, "convert", "-n", "-f", "raw", "-O", "raw", in.toString(), uri).assertOk();
        Exec.run(CLIENT_TIMEOUT, qemuImg, "compare", "-f", "raw", "-F", "raw", in.toString(), uri).assertOk();

        Path out = dir.resolve("out.raw");
        Exec.run(CLIENT_TIMEOUT, qemuImg, "convert", "-f", "raw", "-O", "raw", uri, out.toString()).assertOk();
        byte[] back = Files.readAllBytes(out);
        assertThat(back.length).isEqualTo(SIZE);
        assertThat(Images.firstDifference(data, back)).as("first differing offset").isEqualTo(-1);
    }
}
