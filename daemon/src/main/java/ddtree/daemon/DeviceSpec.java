package ddtree.daemon;

import ddtree.ddlink.SizeParser;
import java.nio.file.Path;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.regex.Pattern;

/**
 * One {@code --device} argument: {@code NAME=ram:SIZE} or {@code NAME=file:PATH[:SIZE]}.
 *
 * <p>A file path may itself contain colons: the part after the last colon is taken as the size
 * only when it starts with a digit. A relative path is relative to the current directory.
 *
 * @param name the device name, which is also its export name
 * @param kind where the data lives
 * @param path the backing file, for {@link Kind#FILE}; null for RAM
 * @param size the size: required for RAM, and for a file that does not exist yet (it is created
 *     sparse at that size); an existing file keeps its own size
 */
public record DeviceSpec(String name, Kind kind, Path path, OptionalLong size) {

    public enum Kind {
        RAM,
        FILE;

        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /**
     * Names end up in NBD URIs and file names, so they stay plain; '@' joins a volume and a
     * snapshot name ({@code vol@daily}).
     */
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._@-]{0,127}");

    public DeviceSpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(size, "size");
        if (kind == Kind.FILE) {
            Objects.requireNonNull(path, "path");
        } else if (path != null || size.isEmpty()) {
            throw new IllegalArgumentException("a RAM device has a size and no path");
        }
    }

    public static DeviceSpec ram(String name, long size) {
        return new DeviceSpec(name, Kind.RAM, null, OptionalLong.of(size));
    }

    public static DeviceSpec file(String name, Path path, OptionalLong size) {
        return new DeviceSpec(name, Kind.FILE, path, size);
    }

    /**
     * Parses a {@code --device} argument.
     *
     * @throws IllegalArgumentException with a message that names the argument and its bad part,
     *     e.g. {@code --device disk1=file:: missing path}
     */
    public static DeviceSpec parse(String text) {
        String where = "--device " + text + ": ";
        int eq = text.indexOf('=');
        if (eq < 0) {
            throw new IllegalArgumentException(where + "expected NAME=ram:SIZE or NAME=file:PATH[:SIZE]");
        }
        String name = text.substring(0, eq);
        checkName(where, name);
        String rest = text.substring(eq + 1);
        int colon = rest.indexOf(':');
        String kind = colon < 0 ? rest : rest.substring(0, colon);
        String args = colon < 0 ? "" : rest.substring(colon + 1);
        switch (kind) {
            case "ram" -> {
                if (args.isEmpty()) {
                    throw new IllegalArgumentException(where + "missing size (e.g. " + name + "=ram:64M)");
                }
                return ram(name, positiveSize(where, args));
            }
            case "file" -> {
                if (args.isEmpty() || args.startsWith(":")) {
                    throw new IllegalArgumentException(where + "missing path");
                }
                int last = args.lastIndexOf(':');
                OptionalLong size = OptionalLong.empty();
                String path = args;
                if (last >= 0) {
                    String tail = args.substring(last + 1);
                    if (tail.isEmpty()) {
                        throw new IllegalArgumentException(where + "missing size after the last ':'");
                    }
                    if (Character.isDigit(tail.charAt(0))) {
                        size = OptionalLong.of(positiveSize(where, tail));
                        path = args.substring(0, last);
                    }
                }
                if (path.isEmpty()) {
                    throw new IllegalArgumentException(where + "missing path");
                }
                try {
                    return file(name, Path.of(path), size);
                } catch (java.nio.file.InvalidPathException e) {
                    throw new IllegalArgumentException(where + "bad path '" + path + "': " + e.getReason());
                }
            }
            case "" -> throw new IllegalArgumentException(
                    where + "missing kind after '=' (use ram:SIZE or file:PATH[:SIZE])");
            default -> throw new IllegalArgumentException(
                    where + "unknown kind '" + kind + "' (use ram:SIZE or file:PATH[:SIZE])");
        }
    }

    static void checkName(String where, String name) {
        if (name.isEmpty()) {
            throw new IllegalArgumentException(where + "missing device name before '='");
        }
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException(where + "bad device name '" + name
                    + "' (use up to 128 letters, digits, '.', '_', '-' or '@', starting with a letter or digit)");
        }
    }

    private static long positiveSize(String where, String text) {
        long size;
        try {
            size = SizeParser.parse(text);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(where + e.getMessage(), e);
        }
        if (size <= 0) {
            throw new IllegalArgumentException(where + "size '" + text + "' must be more than 0");
        }
        return size;
    }

    /** How this device is shown: {@code ram} or {@code file ./var/disk0.img}. */
    public String describe() {
        return kind == Kind.RAM ? "ram" : "file " + path;
    }
}
