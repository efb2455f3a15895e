package ddtree.nbd;

import ddtree.block.BlockDevice;
import java.util.Objects;

/**
 * A device offered to NBD clients under a name.
 *
 * @param name the name clients ask for (at most 4096 bytes of UTF-8)
 * @param description a line for humans, shown by {@code nbdinfo}; may be empty
 * @param device the device served
 * @param readOnly refuse writes, trims and zeroes with EPERM and advertise the export read-only
 */
public record Export(String name, String description, BlockDevice device, boolean readOnly) {
    public Export {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(description, "description");
        Objects.requireNonNull(device, "device");
        if (name.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > NbdProtocol.MAX_STRING) {
            throw new IllegalArgumentException("export name longer than " + NbdProtocol.MAX_STRING + " bytes: " + name);
        }
    }
}
