package ddtree.ddlink;

import java.util.List;

/**
 * A device as {@code list} and {@code info} report it.
 *
 * @param name its name
 * @param size bytes
 * @param state {@code ACTIVE} or {@code SUSPENDED}
 * @param inactiveTable whether a reloaded table waits for {@code resume}
 * @param openCount NBD connections on it plus devices stacked on it
 * @param targets lines in its live table
 * @param deps the lower devices of its live table: device names and file paths as the table gives them
 * @param export the export name, or null when not exported
 * @param readOnly whether the export refuses writes
 */
public record DeviceInfo(String name, long size, String state, boolean inactiveTable, int openCount, int targets,
        List<String> deps, String export, boolean readOnly) {
    public static final String ACTIVE = "ACTIVE";
    public static final String SUSPENDED = "SUSPENDED";

    public DeviceInfo {
        deps = List.copyOf(deps);
    }
}
