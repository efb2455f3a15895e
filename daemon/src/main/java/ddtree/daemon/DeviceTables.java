package ddtree.daemon;

import ddtree.block.device.FileDevice;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * {@code --device} as sugar for a table: {@code NAME=ram:SIZE} is {@code 0 SECTORS ram}, and
 * {@code NAME=file:PATH[:SIZE]} is {@code 0 SECTORS linear /ABS/PATH 0} over the whole file.
 */
final class DeviceTables {
    private DeviceTables() {}

    static final int SECTOR = 512;

    /**
     * The table for {@code spec}, creating a missing file sparse at its size first (an existing
     * file keeps its own size). The path in the table is absolute, so a restarted daemon finds the
     * file whatever directory it runs in.
     */
    static String tableOf(DeviceSpec spec) throws IOException {
        String where = "--device " + spec.name() + ": ";
        return switch (spec.kind()) {
            case RAM -> {
                long size = spec.size().getAsLong();
                if (size % SECTOR != 0) {
                    throw new IOException(where + "size " + size + " is not a multiple of " + SECTOR + " bytes");
                }
                yield "0 " + size / SECTOR + " ram";
            }
            case FILE -> {
                Path path = spec.path().toAbsolutePath().normalize();
                if (!Files.exists(path)) {
                    // FileDevice creates it sparse; the table's linear target opens it again afterwards.
                    try {
                        FileDevice.open(spec.name(), path, spec.size().orElse(0), false).close();
                    } catch (IOException | RuntimeException e) {
                        throw new IOException("cannot open device " + spec.name() + " (" + spec.describe() + "): "
                                + (e.getMessage() != null ? e.getMessage() : e), e);
                    }
                }
                long size = sizeOf(spec, path);
                if (size < SECTOR) {
                    throw new IOException(where + path + " is " + size + " bytes, smaller than one " + SECTOR + "-byte sector");
                }
                yield "0 " + size / SECTOR + " linear " + path + " 0";
            }
        };
    }

    private static long sizeOf(DeviceSpec spec, Path path) throws IOException {
        if (Files.isRegularFile(path)) {
            return Files.size(path);
        }
        // A block device reports 0 through Files.size; FileDevice asks the kernel.
        try (FileDevice d = FileDevice.open(spec.name(), path, 0, true)) {
            return d.size();
        }
    }
}
