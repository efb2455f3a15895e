package ddtree.mapper;

import ddtree.block.BlockDevice;
import java.util.List;

/** Argument checks shared by target types; each message names the field and the value at fault. */
public final class TargetArgs {
    private TargetArgs() {}

    /**
     * Checks that there are exactly {@code expected} arguments.
     *
     * @param usage the arguments' names, as in {@code "<dev> <offset>"}
     */
    public static void count(List<String> args, int expected, String usage) throws TableException {
        if (args.size() != expected) {
            throw new TableException("expects " + expected + " argument" + (expected == 1 ? "" : "s")
                    + (usage.isEmpty() ? "" : " (" + usage + ")") + " but got " + args.size() + describe(args));
        }
    }

    /** " ('a b c')" or "" for no arguments. */
    public static String describe(List<String> args) {
        return args.isEmpty() ? "" : ": '" + String.join(" ", args) + "'";
    }

    /** A count of sectors: a non-negative decimal that fits a byte offset. */
    public static long sectors(String field, String value) throws TableException {
        return number(field, value, 0, TableLine.MAX_SECTORS, "a number of sectors");
    }

    /** A decimal in {@code [min, max]}. */
    public static long number(String field, String value, long min, long max, String what) throws TableException {
        long v;
        try {
            if (value.isEmpty() || !(Character.isDigit(value.charAt(0)) || value.charAt(0) == '-')) {
                throw new NumberFormatException(); // no '+5': it would not print back the same
            }
            v = Long.parseLong(value);
        } catch (NumberFormatException e) {
            throw new TableException(field + " '" + value + "' is not " + what);
        }
        if (v < min || v > max) {
            throw new TableException(field + " " + v + " is out of range (" + min + " to " + max + ")");
        }
        return v;
    }

    /**
     * Checks that {@code [offset, offset+length)} in sectors lies inside {@code device}.
     *
     * @param name the device as the table names it
     */
    public static void fits(String name, BlockDevice device, long offset, long length) throws TableException {
        long end = device.size() / TableLine.SECTOR; // a partial last sector cannot be mapped
        if (offset > end || length > end - offset) {
            throw new TableException(name + " offset " + offset + " + length " + length
                    + " sectors is past its end (" + end + " sectors)");
        }
    }
}
