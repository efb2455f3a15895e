package ddtree.snapstore;

import java.io.IOException;

/** An allocator has no free unit left; the message names the allocator and its size. */
public final class NoSpaceException extends IOException {
    public NoSpaceException(String message) {
        super(message);
    }
}
