package ddtree.nbd;

import ddtree.block.Errno;

/**
 * Validates a request at the edge, before anything reaches a device: the command, its flags, its
 * length and its range against the export, with the errno the NBD spec names. Devices below can
 * then assume a valid range, as nbdkit's backend does after {@code validate_request}.
 */
final class RequestCheck {
    private RequestCheck() {}

    /** The errno for this request, 0 if it is valid; {@link #message} explains a refusal. */
    static int check(Session s, long size, int type, int flags, long offset, long length) {
        int allowed = allowedFlags(s, type);
        if (allowed < 0) {
            return Errno.EINVAL;
        }
        if ((flags & ~allowed) != 0) {
            return Errno.EINVAL;
        }
        switch (type) {
            case NbdProtocol.CMD_FLUSH -> {
                return offset == 0 && length == 0 ? Errno.OK : Errno.EINVAL;
            }
            case NbdProtocol.CMD_READ, NbdProtocol.CMD_WRITE -> {
                if (length > NbdProtocol.MAX_PAYLOAD) {
                    return Errno.EINVAL;
                }
            }
            case NbdProtocol.CMD_BLOCK_STATUS -> {
                if (!s.hasMetaContext()) {
                    return Errno.EINVAL;
                }
            }
            default -> { }
        }
        if (length == 0) {
            return Errno.EINVAL;
        }
        boolean modifies = type == NbdProtocol.CMD_WRITE
                || type == NbdProtocol.CMD_TRIM
                || type == NbdProtocol.CMD_WRITE_ZEROES;
        if (modifies && s.export().readOnly()) {
            return Errno.EPERM;
        }
        if (offset < 0 || length > size - offset) { // offset is unsigned on the wire
            return modifies ? Errno.ENOSPC : Errno.EINVAL;
        }
        return Errno.OK;
    }

    /** The flags a command accepts in this session, or -1 for a command we do not serve. */
    private static int allowedFlags(Session s, int type) {
        int fua = NbdProtocol.CMD_FLAG_FUA; // valid on every command once SEND_FUA is advertised
        return switch (type) {
            case NbdProtocol.CMD_READ -> fua | (s.structuredReplies() ? NbdProtocol.CMD_FLAG_DF : 0);
            case NbdProtocol.CMD_WRITE, NbdProtocol.CMD_FLUSH, NbdProtocol.CMD_CACHE -> fua;
            case NbdProtocol.CMD_TRIM -> s.hasFlag(NbdProtocol.FLAG_SEND_TRIM) || s.export().readOnly() ? fua : -1;
            case NbdProtocol.CMD_WRITE_ZEROES -> s.hasFlag(NbdProtocol.FLAG_SEND_WRITE_ZEROES) || s.export().readOnly()
                    ? fua | NbdProtocol.CMD_FLAG_NO_HOLE
                            | (s.hasFlag(NbdProtocol.FLAG_SEND_FAST_ZERO) ? NbdProtocol.CMD_FLAG_FAST_ZERO : 0)
                    : -1;
            case NbdProtocol.CMD_BLOCK_STATUS -> fua | NbdProtocol.CMD_FLAG_REQ_ONE;
            default -> -1;
        };
    }

    /** Why {@link #check} refused the request, for the error chunk and the log. */
    static String message(Session s, long size, int type, int flags, long offset, long length, int errno) {
        String cmd = NbdProtocol.commandName(type);
        int allowed = allowedFlags(s, type);
        if (allowed < 0) {
            return "unknown or unsupported command " + type;
        }
        if ((flags & ~allowed) != 0) {
            return String.format("flags 0x%x are not valid for %s", flags & ~allowed, cmd);
        }
        if (type == NbdProtocol.CMD_FLUSH) {
            return "FLUSH must have offset and length 0";
        }
        if ((type == NbdProtocol.CMD_READ || type == NbdProtocol.CMD_WRITE) && length > NbdProtocol.MAX_PAYLOAD) {
            return cmd + " of " + length + " bytes exceeds the maximum payload of " + NbdProtocol.MAX_PAYLOAD;
        }
        if (type == NbdProtocol.CMD_BLOCK_STATUS && !s.hasMetaContext()) {
            return "BLOCK_STATUS without a negotiated meta context";
        }
        if (length == 0) {
            return cmd + " of length 0";
        }
        if (errno == Errno.EPERM) {
            return "export '" + s.export().name() + "' is read-only";
        }
        return String.format("%s at %s+%d is past the end of the export (%d bytes)",
                cmd, Long.toUnsignedString(offset), length, size);
    }
}
