package ddtree.nbd;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/** UTF-8 helpers for protocol strings, which must not exceed a length limit. */
final class Strings {
    private Strings() {}

    /** The UTF-8 bytes of {@code s}, cut to at most {@code max} bytes. */
    static byte[] utf8(String s, int max) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        return b.length <= max ? b : Arrays.copyOf(b, max);
    }

    /** Decodes a client string; invalid UTF-8 becomes replacement characters, never an exception. */
    static String decode(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }
}
