package ddtree.ddlink;

import java.util.List;

/**
 * Lines about one device: its table ({@code table}) or its targets' status ({@code status}),
 * one per target, each {@code start length type ...} in 512-byte sectors.
 */
public record DeviceLines(String name, List<String> lines) {
    public DeviceLines {
        lines = List.copyOf(lines);
    }
}
