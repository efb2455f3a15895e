package ddtree.nbd;

import java.io.IOException;

/** The peer broke the protocol in a way that leaves no choice but to close the connection. */
final class ProtocolException extends IOException {
    ProtocolException(String message) {
        super(message);
    }
}
