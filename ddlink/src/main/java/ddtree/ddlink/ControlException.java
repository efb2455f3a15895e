package ddtree.ddlink;

/**
 * A request the daemon refused. The message is the whole answer a user sees: it names the field
 * and the value at fault, e.g. {@code table line 2: striped: chunk size 3 is not a power of two}.
 * The handler throws it on the daemon's side; {@link DdlinkClient} throws it again on the caller's.
 */
public final class ControlException extends Exception {
    public ControlException(String message) {
        super(message);
    }
}
