package ddtree.ddlink;

import java.util.List;
import java.util.Optional;

/**
 * What the daemon does for each verb. {@link ControlServer} decodes a request, calls one of
 * these, and encodes the result or the refusal. Names given as {@code Optional.empty()} mean
 * "every device", as dmsetup's verbs do without a name.
 *
 * <p>Implementations are called from several connections at once.
 */
public interface ControlHandler {
    VersionInfo version();

    List<TargetInfo> targets();

    /** Builds a device from table text (one or more {@code start length type args...} lines). */
    DeviceInfo create(String name, String table) throws ControlException;

    /** Removes a device; without {@code force}, not one that is open or stacked on. */
    void remove(String name, boolean force) throws ControlException;

    List<DeviceInfo> list();

    /** The live tables, in the form {@code create} accepts back. */
    List<DeviceLines> table(Optional<String> name) throws ControlException;

    /** The targets' status lines (INFO form). */
    List<DeviceLines> status(Optional<String> name) throws ControlException;

    List<DeviceInfo> info(Optional<String> name) throws ControlException;

    DeviceInfo suspend(String name) throws ControlException;

    /** Swaps in the inactive table, if one is loaded, and releases held I/O. */
    DeviceInfo resume(String name) throws ControlException;

    /** Loads an inactive table for the next {@code resume}. */
    DeviceInfo reload(String name, String table) throws ControlException;

    /** Drops the inactive table. */
    DeviceInfo clear(String name) throws ControlException;

    DeviceInfo rename(String name, String newName) throws ControlException;

    /** Sends a message to the target at {@code sector}; returns its answer, maybe empty. */
    String message(String name, long sector, String text) throws ControlException;

    /** Exports the device under {@code exportName} (its own name when empty). */
    ExportInfo export(String name, Optional<String> exportName, boolean readOnly) throws ControlException;

    void unexport(String name) throws ControlException;

    /**
     * Writes the delta of snapshot {@code to} of {@code volume} from snapshot {@code from} (a full
     * stream when empty) to {@code out}, and returns a summary for the reply.
     */
    default Object deltaSend(String volume, Optional<String> from, String to, boolean compress, DataFrames.Output out)
            throws ControlException, java.io.IOException {
        throw new ControlException("delta-send: this daemon serves no snapshot volumes");
    }

    /**
     * Applies the delta stream read from {@code in} to {@code volume}: all of it or, when the stream
     * is refused, none. Returns a summary for the reply.
     */
    default Object deltaReceive(String volume, boolean force, java.io.InputStream in)
            throws ControlException, java.io.IOException {
        throw new ControlException("delta-receive: this daemon serves no snapshot volumes");
    }
}
