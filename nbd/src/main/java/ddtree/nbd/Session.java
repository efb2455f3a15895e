package ddtree.nbd;

/**
 * What the handshake agreed: the export, whether structured replies are on, which meta contexts
 * were selected, and the transmission flags sent to the client.
 */
record Session(Export export, boolean structuredReplies, boolean baseAllocation, int transmissionFlags) {

    boolean hasFlag(int flag) {
        return (transmissionFlags & flag) != 0;
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
