package ddtree.nbd.client;

import ddtree.block.Capabilities;
import ddtree.nbd.NbdProtocol;

/**
 * What the handshake learned about a remote export.
 *
 * @param size export size in bytes
 * @param transmissionFlags the NBD transmission flags the server sent
 * @param minBlock smallest block the server addresses (1 when it sent no INFO_BLOCK_SIZE)
 * @param preferredBlock the block size the server prefers
 * @param maxPayload largest READ or WRITE payload the server accepts
 * @param structuredReplies whether NBD_OPT_STRUCTURED_REPLY was acknowledged
 * @param baseAllocationId the context id of {@code base:allocation}, or -1 when not negotiated
 */
record ExportInfo(
        long size,
        int transmissionFlags,
        int minBlock,
        int preferredBlock,
        int maxPayload,
        boolean structuredReplies,
        int baseAllocationId) {

    /** The payload limit the spec implies when a server states none. */
    static final int DEFAULT_MAX_PAYLOAD = 32 << 20;

    boolean hasFlag(int flag) {
        return (transmissionFlags & flag) != 0;
    }

    boolean readOnly() {
        return hasFlag(NbdProtocol.FLAG_READ_ONLY);
    }

    boolean baseAllocation() {
        return baseAllocationId >= 0;
    }

    Capabilities capabilities() {
        return new Capabilities(
                hasFlag(NbdProtocol.FLAG_SEND_FLUSH),
                hasFlag(NbdProtocol.FLAG_SEND_FUA),
                hasFlag(NbdProtocol.FLAG_SEND_TRIM),
                hasFlag(NbdProtocol.FLAG_SEND_WRITE_ZEROES),
                hasFlag(NbdProtocol.FLAG_SEND_FAST_ZERO),
                baseAllocation());
    }

    /**
     * Why a reconnect to {@code now} cannot stand in for the export first seen as this one, or null
     * when it can. Users of the device were told this size and these capabilities; a server that
     * comes back with less is a different disk as far as they are concerned.
     */
    String incompatibility(ExportInfo now, int splitBytes) {
        if (now.size != size) {
            return "size is now " + now.size + " bytes, was " + size;
        }
        if (now.maxPayload < splitBytes) {
            return "maximum payload is now " + now.maxPayload + " bytes, requests are split at " + splitBytes;
        }
        if (now.readOnly() && !readOnly()) {
            return "export is now read-only";
        }
        Capabilities was = capabilities();
        Capabilities is = now.capabilities();
        if ((was.flush() && !is.flush()) || (was.fua() && !is.fua()) || (was.discard() && !is.discard())
                || (was.writeZeroes() && !is.writeZeroes()) || (was.fastZero() && !is.fastZero())
                || (was.extents() && !is.extents())) {
            return "capabilities are now " + is + ", were " + was;
        }
        if (structuredReplies && !now.structuredReplies) {
            return "structured replies are no longer offered";
        }
        return null;
    }
}
