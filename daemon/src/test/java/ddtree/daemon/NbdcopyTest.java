package ddtree.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** nbdcopy with several connections at once (multi-conn) into an export and back out. */
@Timeout(120)
class NbdcopyTest {
    static final int SIZE = 32 << 20;

    @TempDir
    Path dir;

    Daemon daemon;

    @BeforeEach
    void start() throws Exception {
        daemon = TestDaemons.start(dir, "ram=ram:32M", "file=file:" + dir.resolve("dev.img") + ":32M");
    }

    @AfterEach
    void stop() throws Exception {
        if (daemon != null) {
            daemon.close();
        }
    }

    @Test
    void copyThroughARamExport() throws Exception {
        copyRoundTrip("ram", 11);
    }

    @Test
    void copyThroughAFileExport() throws Exception {
        copyRoundTrip("file", 12);
    }

    private void copyRoundTrip(String name, long seed) throws Exception {
        String nbdcopy = Tools.require("nbdcopy");
        String uri = daemon.uri(name);
        TestDaemons.qemuIoOk(uri, "write -P 0xc3 0 32M"); // junk where the image has zeroes

        Path in = dir.resolve("in.raw");
        byte[] data = Images.write(in, SIZE, seed);
        Duration t = Duration.ofSeconds(60);
        Exec.run(t, nbdcopy, "--connections=4", "--requests=16", in.toString(), uri).assertOk();

        Path out = dir.resolve("out.raw");
        Files.write(out, new byte[0]);
        Exec.run(t, nbdcopy, "--connections=4", "--requests=16", uri, out.toString()).assertOk();
        byte[] back = Files.readAllBytes(out);
        assertThat(back.length).isEqualTo(SIZE);
        assertThat(Images.firstDifference(data, back)).as("first differing offset").isEqualTo(-1);
    }
}
