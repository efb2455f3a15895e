package ddtree.mapper;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Reads dmsetup table text: one {@code start length type args...} line per target, in 512-byte
 * sectors. Lines whose first non-blank character is {@code #}, and blank lines, are skipped.
 *
 * <p>Only the syntax and the layout are checked here; the target types check their arguments
 * when the table is built. Line numbers in messages count table lines only, so they match what
 * {@code ddsetup table} prints back.
 */
public final class TableParser {
    private TableParser() {}

    public static List<TableLine> parse(String text) throws TableException {
        List<TableLine> lines = new ArrayList<>();
        for (String raw : text.split("\r?\n", -1)) {
            String line = raw.strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            lines.add(parseLine(lines.size() + 1, line));
        }
        validate(lines);
        return List.copyOf(lines);
    }

    /**
     * Checks a table's layout: not empty, the first line starts at sector 0, every line starts where
     * the one before ends, and no line is empty.
     */
    public static void validate(List<TableLine> table) throws TableException {
        if (table.isEmpty()) {
            throw new TableException("table is empty: a device needs at least one line");
        }
        long expected = 0;
        for (int i = 0; i < table.size(); i++) {
            TableLine l = table.get(i);
            if (l.length() == 0) {
                throw new TableException("table line " + (i + 1) + ": length is 0 sectors; a target needs at least one");
            }
            if (i == 0 && l.start() != 0) {
                throw new TableException("table line 1: starts at sector " + l.start() + " but a table must start at sector 0");
            }
            if (l.start() != expected) {
                throw new TableException("table line " + (i + 1) + ": starts at sector " + l.start() + " but line " + i
                        + " ends at " + expected + (l.start() > expected ? " (gap)" : " (overlap)"));
            }
            expected = l.end();
        }
    }

    private static TableLine parseLine(int n, String line) throws TableException {
        String[] f = line.split("\\s+");
        if (f.length < 3) {
            throw new TableException("table line " + n + ": expected 'start length type [args...]' but found '" + line + "'");
        }
        long start = sectors(n, "start", f[0]);
        long length = sectors(n, "length", f[1]);
        if (length > TableLine.MAX_SECTORS - start) {
            throw new TableException("table line " + n + ": start " + start + " + length " + length
                    + " sectors is past the largest device (" + TableLine.MAX_SECTORS + " sectors)");
        }
        return new TableLine(start, length, f[2], Arrays.asList(f).subList(3, f.length));
    }

    private static long sectors(int n, String field, String value) throws TableException {
        try {
            return TargetArgs.sectors(field, value);
        } catch (TableException e) {
            throw new TableException("table line " + n + ": " + e.getMessage());
        }
    }
}
