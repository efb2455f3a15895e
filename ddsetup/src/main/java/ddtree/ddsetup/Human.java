package ddtree.ddsetup;

import ddtree.ddlink.SizeParser;
import ddtree.ddlink.DeviceInfo;
import ddtree.ddlink.DeviceLines;
import ddtree.ddlink.TargetInfo;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/** The human forms of the answers, shaped like dmsetup's so its users read them at a glance. */
final class Human {
    private Human() {}

    /** {@code name<TAB>(size)} per device, as dmsetup prints {@code name<TAB>(major:minor)}. */
    static List<String> ls(List<DeviceInfo> devices) {
        if (devices.isEmpty()) {
            return List.of("No devices found");
        }
        List<String> out = new ArrayList<>();
        for (DeviceInfo d : devices) {
            out.add(d.name() + "\t(" + size(d.size()) + ")");
        }
        return out;
    }

    /** Each device nobody stacks on, with what it stacks on below it, down to the files. */
    static List<String> tree(List<DeviceInfo> devices) {
        if (devices.isEmpty()) {
            return List.of("No devices found");
        }
        Map<String, DeviceInfo> byName = new HashMap<>();
        Set<String> lower = new HashSet<>();
        for (DeviceInfo d : devices) {
            byName.put(d.name(), d);
            lower.addAll(d.deps());
        }
        List<String> out = new ArrayList<>();
        for (DeviceInfo d : devices) {
            if (!lower.contains(d.name())) {
                out.add(d.name() + " (" + size(d.size()) + ")");
                children(d, byName, "", out, new HashSet<>(Set.of(d.name())));
            }
        }
        return out;
    }

    private static void children(DeviceInfo d, Map<String, DeviceInfo> byName, String indent, List<String> out, Set<String> path) {
        List<String> deps = d.deps();
        for (int i = 0; i < deps.size(); i++) {
            boolean last = i == deps.size() - 1;
            String dep = deps.get(i);
            DeviceInfo child = byName.get(dep);
            out.add(indent + (last ? " └─" : " ├─") + dep + (child != null ? " (" + size(child.size()) + ")" : ""));
            if (child != null && path.add(dep)) {
                children(child, byName, indent + (last ? "   " : " │ "), out, path);
                path.remove(dep);
            }
        }
    }

    /** The blocks {@code dmsetup info} prints, one per device, a blank line between. */
    static List<String> info(List<DeviceInfo> devices) {
        if (devices.isEmpty()) {
            return List.of("No devices found");
        }
        List<String> out = new ArrayList<>();
        for (DeviceInfo d : devices) {
            if (!out.isEmpty()) {
                out.add("");
            }
            out.add(field("Name:") + d.name());
            out.add(field("State:") + d.state());
            out.add(field("Tables present:") + (d.inactiveTable() ? "LIVE & INACTIVE" : "LIVE"));
            out.add(field("Open count:") + d.openCount());
            out.add(field("Number of targets:") + d.targets());
            out.add(field("Size:") + d.size() + " bytes (" + size(d.size()) + ", " + d.size() / 512 + " sectors)");
            out.add(field("Export:") + (d.export() == null ? "none" : d.export() + (d.readOnly() ? " (read-only)" : "")));
        }
        return out;
    }

    private static String field(String label) {
        return String.format(Locale.ROOT, "%-19s", label);
    }

    /** dmsetup's {@code N dependencies : (a) (b)}; with several devices each line starts with its name. */
    static List<String> deps(List<DeviceInfo> devices, boolean named) {
        if (devices.isEmpty()) {
            return List.of("No devices found");
        }
        List<String> out = new ArrayList<>();
        for (DeviceInfo d : devices) {
            StringBuilder b = new StringBuilder();
            b.append(named ? " " : d.name() + ": ").append(d.deps().size()).append(" dependencies\t:");
            for (String dep : d.deps()) {
                b.append(" (").append(dep).append(')');
            }
            out.add(b.toString());
        }
        return out;
    }

    /** Table or status lines: bare for one named device, {@code name: line} for all, as dmsetup does. */
    static List<String> lines(List<DeviceLines> devices, boolean named) {
        if (devices.isEmpty()) {
            return List.of("No devices found");
        }
        List<String> out = new ArrayList<>();
        for (DeviceLines d : devices) {
            for (String l : d.lines()) {
                out.add(named ? l : d.name() + ": " + l);
            }
        }
        return out;
    }

    static List<String> targets(List<TargetInfo> targets) {
        List<String> out = new ArrayList<>();
        for (TargetInfo t : targets) {
            out.add(String.format(Locale.ROOT, "%-16s v%s", t.name(), t.version()));
        }
        return out;
    }

    /** {@code 512 B}, {@code 16.0 MiB}, {@code 1.0 GiB}. */
    static String size(long bytes) {
        return SizeParser.format(bytes);
    }
}
