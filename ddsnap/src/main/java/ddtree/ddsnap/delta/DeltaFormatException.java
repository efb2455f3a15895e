package ddtree.ddsnap.delta;

import java.io.IOException;

/**
 * A delta stream that is not one, is of an unsupported version, is corrupt, cut short, or breaks a
 * rule of the format. The message names the problem, the record and the byte where it was found.
 */
public final class DeltaFormatException extends IOException {
    public DeltaFormatException(String message) {
        super(message);
    }

    public DeltaFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
