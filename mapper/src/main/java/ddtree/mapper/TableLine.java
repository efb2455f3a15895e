package ddtree.mapper;

import java.util.List;

/**
 * One table line, in sectors of 512 bytes: {@code start length type args...}. {@link #format()}
 * gives the line back in the form {@link TableParser} reads.
 */
public record TableLine(long start, long length, String type, List<String> args) {
    /** The unit of table positions and lengths. */
    public static final int SECTOR = 512;
    /** The most sectors a position may have, so that it fits in a byte offset. */
    public static final long MAX_SECTORS = Long.MAX_VALUE / SECTOR;

    public TableLine {
        if (start < 0 || start > MAX_SECTORS || length < 0 || length > MAX_SECTORS - start) {
            throw new IllegalArgumentException("table line range " + start + "+" + length
                    + " must lie within 0.." + MAX_SECTORS + " sectors");
        }
        if (type == null || type.isEmpty() || hasSpace(type)) {
            throw new IllegalArgumentException("target type '" + type + "' must be one non-empty word");
        }
        args = List.copyOf(args);
        for (String a : args) {
            // A blank or spaced argument would not survive format() and parse().
            if (a.isEmpty() || hasSpace(a)) {
                throw new IllegalArgumentException("target argument '" + a + "' must be one non-empty word");
            }
        }
    }

    public TableLine(long start, long length, String type, String... args) {
        this(start, length, type, List.of(args));
    }

    /** The line as text: {@code "0 2048 linear /x/y 0"}. */
    public String format() {
        StringBuilder sb = new StringBuilder().append(start).append(' ').append(length).append(' ').append(type);
        for (String a : args) {
            sb.append(' ').append(a);
        }
        return sb.toString();
    }

    /** The first sector past this line. */
    public long end() {
        return start + length;
    }

    public long startBytes() {
        return start * SECTOR;
    }

    public long lengthBytes() {
        return length * SECTOR;
    }

    private static boolean hasSpace(String s) {
        for (int i = 0; i < s.length(); i++) {
            if (Character.isWhitespace(s.charAt(i))) {
                return true;
            }
        }
        return false;
    }

    @Override
    public String toString() {
        return format();
    }
}
