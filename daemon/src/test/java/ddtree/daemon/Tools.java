package ddtree.daemon;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Finds the client tools the end-to-end tests drive. A test whose tool is absent is skipped with
 * a message saying so (bin/test installs them); a tool that is present must work.
 */
final class Tools {
    private Tools() {}

    /** The absolute path of {@code tool} on PATH or in the sbin directories, or null. */
    static String find(String tool) {
        List<String> dirs = new ArrayList<>(List.of(System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)));
        dirs.addAll(List.of("/usr/local/sbin", "/usr/sbin", "/sbin"));
        for (String d : dirs) {
            if (d.isEmpty()) {
                continue;
            }
            Path p = Path.of(d, tool);
            if (Files.isRegularFile(p) && Files.isExecutable(p)) {
                return p.toString();
            }
        }
        return null;
    }

    /** The path of {@code tool}; skips the calling test when it is not installed. */
    static String require(String tool) {
        String p = find(tool);
        assumeTrue(p != null, () -> "skipped: '" + tool + "' is not installed (bin/test installs it)");
        return p;
    }

    /** Skips the calling test unless every tool is installed. */
    static void requireAll(String... tools) {
        for (String t : tools) {
            require(t);
        }
    }

    static boolean isRoot() {
        String id = find("id");
        if (id == null) {
            return "root".equals(System.getProperty("user.name"));
        }
        Exec.Result r = Exec.run(Duration.ofSeconds(10), id, "-u");
        return r.ok() && r.out().strip().equals("0");
    }

    static void requireRoot(String why) {
        assumeTrue(isRoot(), () -> "skipped: " + why + " needs root");
    }
}
