package ddtree.ddsnap.cli;

import ddtree.ddlink.ControlException;
import ddtree.ddlink.DdlinkClient;
import ddtree.ddlink.DeviceInfo;
import ddtree.ddlink.SizeParser;
import ddtree.ddlink.cli.ControlCli.LocalFailure;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * The SPECs {@code ddsnap init} takes for the origin, the store and the metadata: {@code ram:SIZE}
 * (a new RAM device), {@code file:PATH[:SIZE]} (a file, created sparse at SIZE when missing; an
 * existing file keeps its size), or the name of an existing ddtree device.
 */
final class Specs {
    private Specs() {}

    /**
     * What a table names for the spec, and its size.
     *
     * @param created the RAM device made for it, to remove again if init fails
     */
    record Resolved(String tableArg, long size, Optional<String> created) {}

    static Resolved resolve(DdlinkClient client, String role, String deviceName, String spec)
            throws IOException, ControlException {
        String where = "--" + role + " " + spec + ": ";
        if (spec.startsWith("ram:")) {
            long size = size(where, spec.substring(4));
            client.create(deviceName, "0 " + size / 512 + " ram");
            return new Resolved(deviceName, size, Optional.of(deviceName));
        }
        if (spec.startsWith("file:")) {
            String rest = spec.substring(5);
            String sizeText = null;
            int colon = rest.lastIndexOf(':');
            if (colon >= 0 && colon + 1 < rest.length() && Character.isDigit(rest.charAt(colon + 1))) {
                sizeText = rest.substring(colon + 1);
                rest = rest.substring(0, colon);
            }
            if (rest.isEmpty()) {
                throw new LocalFailure(where + "missing path");
            }
            Path path;
            try {
                path = Path.of(rest).toAbsolutePath().normalize();
            } catch (InvalidPathException e) {
                throw new LocalFailure(where + "bad path: " + e.getReason());
            }
            if (!Files.exists(path)) {
                if (sizeText == null) {
                    throw new LocalFailure(where + path + " does not exist; give its size as file:PATH:SIZE to create it");
                }
                long size = size(where, sizeText);
                try (RandomAccessFile f = new RandomAccessFile(path.toFile(), "rw")) {
                    f.setLength(size); // sparse
                }
            }
            if (!Files.isRegularFile(path)) {
                throw new LocalFailure(where + path + " is not a regular file (put a block device in a ddtree "
                        + "device with ddsetup and name that device)");
            }
            long size = Files.size(path) / 512 * 512;
            if (size == 0) {
                throw new LocalFailure(where + path + " is smaller than one 512-byte sector");
            }
            return new Resolved(path.toString(), size, Optional.empty());
        }
        if (spec.contains(":")) {
            throw new LocalFailure(where + "unknown kind '" + spec.substring(0, spec.indexOf(':'))
                    + "' (use ram:SIZE, file:PATH[:SIZE] or a device name)");
        }
        List<DeviceInfo> info = client.info(Optional.of(spec));
        return new Resolved(spec, info.getFirst().size(), Optional.empty());
    }

    private static long size(String where, String text) throws LocalFailure {
        long size;
        try {
            size = SizeParser.parse(text);
        } catch (IllegalArgumentException e) {
            throw new LocalFailure(where + e.getMessage());
        }
        if (size <= 0 || size % 512 != 0) {
            throw new LocalFailure(where + "size " + size + " is not a positive multiple of 512 bytes");
        }
        return size;
    }
}
