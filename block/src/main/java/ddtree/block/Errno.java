package ddtree.block;

/**
 * Linux errno values used as bio completion status. NBD carries the same numbers on the wire,
 * so a status travels from device to client without translation.
 */
public final class Errno {
    public static final int OK = 0;
    public static final int EPERM = 1;
    public static final int EIO = 5;
    public static final int ENOMEM = 12;
    public static final int EINVAL = 22;
    public static final int ENOSPC = 28;
    public static final int EOVERFLOW = 75;
    public static final int ENOTSUP = 95;
    public static final int ESHUTDOWN = 108;

    private Errno() {}

    /** Short symbolic name for logs and status output. */
    public static String name(int errno) {
        return switch (errno) {
            case OK -> "OK";
            case EPERM -> "EPERM";
            case EIO -> "EIO";
            case ENOMEM -> "ENOMEM";
            case EINVAL -> "EINVAL";
            case ENOSPC -> "ENOSPC";
            case EOVERFLOW -> "EOVERFLOW";
            case ENOTSUP -> "ENOTSUP";
            case ESHUTDOWN -> "ESHUTDOWN";
            default -> "errno " + errno;
        };
    }
}
