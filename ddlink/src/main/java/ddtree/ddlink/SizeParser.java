package ddtree.ddlink;

import java.util.Locale;

/**
 * Sizes on the command line: plain bytes ({@code 4096}) or a number with a binary suffix
 * {@code K}, {@code M}, {@code G} or {@code T} (powers of 1024; {@code KiB}, {@code MB}... and
 * lower case are accepted too).
 */
public final class SizeParser {
    private SizeParser() {}

    private static final String UNITS = "KMGT";

    /**
     * Parses a size.
     *
     * @throws IllegalArgumentException naming the bad part, e.g. {@code size '12Q': unknown suffix 'Q' (use K, M, G or T)}
     */
    public static long parse(String text) {
        String s = text.strip();
        if (s.isEmpty()) {
            throw new IllegalArgumentException("size '" + text + "': empty (give bytes or a number with K, M, G or T)");
        }
        int i = 0;
        while (i < s.length() && Character.isDigit(s.charAt(i))) {
            i++;
        }
        if (i == 0) {
            throw new IllegalArgumentException("size '" + text + "': not a number (e.g. 4096, 64M or 1G)");
        }
        String digits = s.substring(0, i);
        String suffix = s.substring(i);
        int shift = shiftOf(text, suffix);
        long n;
        try {
            n = Long.parseLong(digits);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("size '" + text + "': too large");
        }
        if (n > (Long.MAX_VALUE >> shift)) {
            throw new IllegalArgumentException("size '" + text + "': too large");
        }
        return n << shift;
    }

    private static int shiftOf(String text, String suffix) {
        if (suffix.isEmpty() || suffix.equalsIgnoreCase("B")) {
            return 0;
        }
        char unit = Character.toUpperCase(suffix.charAt(0));
        String rest = suffix.substring(1);
        int index = UNITS.indexOf(unit);
        if (index < 0 || !(rest.isEmpty() || rest.equalsIgnoreCase("B") || rest.equalsIgnoreCase("iB"))) {
            String bad = index < 0 ? suffix.substring(0, 1) : suffix;
            if (suffix.charAt(0) == '.' || suffix.charAt(0) == ',') {
                throw new IllegalArgumentException("size '" + text + "': use a whole number (e.g. 1536M, not 1.5G)");
            }
            throw new IllegalArgumentException(
                    "size '" + text + "': unknown suffix '" + bad + "' (use K, M, G or T)");
        }
        return 10 * (index + 1);
    }

    /** A size for people: {@code 512 B}, {@code 16.0 MiB}, {@code 1.0 GiB}. */
    public static String format(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }
}
