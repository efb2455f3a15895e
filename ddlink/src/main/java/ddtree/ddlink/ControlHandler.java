package ddtree.ddlink;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.List;
import java.util.Optional;
import java.util.function.LongConsumer;

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
     * {@code delta-send}: writes the delta of snapshot {@code to} of {@code volume} from snapshot
     * {@code from} (all of {@code to} when empty) to {@code out}, which carries it to the client
     * in data frames, telling {@code total} first how many bytes to expect. Returns the reply.
     *
     * @throws IOException if the stream cannot be made or the client cannot be written to
     */
    default Object deltaSend(String volume, Optional<String> from, String to, boolean compress, OutputStream out,
            LongConsumer total) throws ControlException, IOException {
        throw new ControlException("unknown verb 'delta-send'");
    }

    /**
     * {@code delta-receive}: applies the stream the client sends in data frames, read from
     * {@code in}, to {@code volume}. Returns the reply.
     *
     * @throws IOException if the stream is refused or cannot be read
     */
    default Object deltaReceive(String volume, boolean force, InputStream in) throws ControlException, IOException {
        throw new ControlException("unknown verb 'delta-receive'");
    }
}
