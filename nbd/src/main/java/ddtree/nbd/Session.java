package ddtree.nbd;

import java.util.List;

/**
 * What the handshake agreed: the export, whether structured replies are on, which meta contexts
 * were selected, and the transmission flags sent to the client.
 *
 * @param baseAllocation {@code base:allocation} was selected (its id is {@link NbdProtocol#BASE_ALLOCATION_ID})
 * @param maps the device's own maps that were selected, in the order their chunks are sent
 */
record Session(Export export, boolean structuredReplies, boolean baseAllocation, List<MapContext> maps,
        int transmissionFlags) {

    /** A selected meta context that is one of the device's {@code StatusMaps}: its id and name. */
    record MapContext(int id, String name) {}

    Session {
        maps = List.copyOf(maps);
    }

    boolean hasFlag(int flag) {
        return (transmissionFlags & flag) != 0;
    }

    /** True if any meta context was selected, so BLOCK_STATUS may be asked. */
    boolean hasMetaContext() {
        return baseAllocation || !maps.isEmpty();
    }

    /** The transmission flags for {@code export}, from what its device can do. */
    static int transmissionFlags(Export export, boolean structured) {
        var caps = export.device().capabilities();
        int flags = NbdProtocol.FLAG_HAS_FLAGS
                | NbdProtocol.FLAG_SEND_FLUSH
                | NbdProtocol.FLAG_SEND_FUA
                | NbdProtocol.FLAG_SEND_CACHE
                // Devices are shared by all connections and FLUSH reaches the device itself, so a
                // flush on one connection covers writes completed on every other.
                | NbdProtocol.FLAG_CAN_MULTI_CONN;
        if (export.readOnly()) {
            flags |= NbdProtocol.FLAG_READ_ONLY;
        } else {
            if (caps.discard()) {
                flags |= NbdProtocol.FLAG_SEND_TRIM;
            }
            if (caps.writeZeroes()) {
                flags |= NbdProtocol.FLAG_SEND_WRITE_ZEROES;
                if (caps.fastZero()) {
                    flags |= NbdProtocol.FLAG_SEND_FAST_ZERO;
                }
            }
        }
        if (structured) {
            flags |= NbdProtocol.FLAG_SEND_DF;
        }
        return flags;
    }
}
