package ddtree.block.sys;

import ddtree.block.Errno;
import java.io.IOException;

/** A failed system call, carrying the Linux errno so callers can tell one failure from another. */
public final class ErrnoException extends IOException {
    private static final long serialVersionUID = 1L;

    static final int ENOENT = 2;
    static final int EINTR = 4;
    static final int ENXIO = 6;
    static final int EACCES = 13;
    static final int EEXIST = 17;
    static final int EFBIG = 27;
    static final int EROFS = 30;
    static final int EOPNOTSUPP = 95;
    static final int EDQUOT = 122;

    private final int errno;

    public ErrnoException(String message, int errno) {
        super(message);
        this.errno = errno;
    }

    /** The Linux errno value. */
    public int errno() {
        return errno;
    }

    /**
     * The errno to complete a bio with: NBD carries only a few values, so the rest fold into the
     * nearest one (read-only file systems are EPERM, quotas and file-size limits are ENOSPC),
     * the way nbdkit does.
     */
    public int bioStatus() {
        return switch (errno) {
            case Errno.EPERM, EACCES, EROFS -> Errno.EPERM;
            case Errno.ENOSPC, EDQUOT, EFBIG -> Errno.ENOSPC;
            case Errno.ENOMEM, Errno.EINVAL, Errno.EOVERFLOW, Errno.ESHUTDOWN -> errno;
            case EOPNOTSUPP -> Errno.ENOTSUP;
            default -> Errno.EIO;
        };
    }
}
