package ddtree.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import ddtree.nbd.RawClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;

/** Copies exports out to files with nbdcopy and compares them byte for byte, or digests them. */
final class VolumeImages {
    private VolumeImages() {}

    static final Duration COPY_TIMEOUT = Duration.ofSeconds(60);

    /** Copies all of the export at {@code uri} to {@code file} (replaced) and returns the file. */
    static Path copy(String uri, Path file) throws IOException {
        String nbdcopy = Tools.require("nbdcopy");
        Files.deleteIfExists(file);
        Files.write(file, new byte[0]);
        Exec.run(COPY_TIMEOUT, nbdcopy, uri, file.toString()).assertOk();
        return file;
    }

    /** Fails, naming the first byte that differs, unless the two files hold the same bytes. */
    static void assertSameBytes(Path expected, Path actual, String what) throws IOException {
        long at = Files.mismatch(expected, actual);
        assertThat(at).as(what + ": " + actual.getFileName() + " differs from " + expected.getFileName()
                + " first at byte " + at + " (sizes " + Files.size(expected) + " and " + Files.size(actual) + ")")
                .isEqualTo(-1L);
    }

    /** Copies both exports out and fails unless they hold the same bytes. */
    static void assertSameExports(String expectedUri, String actualUri, Path scratch, String what) throws IOException {
        Path e = copy(expectedUri, scratch.resolve("expected.img"));
        Path a = copy(actualUri, scratch.resolve("actual.img"));
        assertSameBytes(e, a, what + " (" + expectedUri + " vs " + actualUri + ")");
    }

    /** The SHA-256 of all of export {@code name} of {@code daemon}, read in-process over NBD. */
    static String digest(Daemon daemon, String name) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
        try (RawClient c = new RawClient(daemon.address()).go(name, false)) {
            long size = c.exportSize;
            assertThat(size).as("size of " + name).isPositive();
            for (long off = 0; off < size; off += 1 << 20) {
                RawClient.Reply r = c.read(off, (int) Math.min(1 << 20, size - off));
                assertThat(r.errno()).as("read of " + name + " at " + off).isZero();
                md.update(r.data());
            }
            c.disconnect();
        }
        return HexFormat.of().formatHex(md.digest());
    }
}
