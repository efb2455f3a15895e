package ddtree.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launchers on a checkout that has never been built, as a newcomer meets them: the project's
 * sources are copied without any build output, and {@code bin/ddtree} must build them itself and
 * run. The other launcher tests run on the tree Maven has just built, so they cannot see a build
 * the launcher would fail on its own (a module needing another's test jar, say).
 */
@Timeout(600)
class FreshCheckoutIT {
    /** Build output, run state and version-control data: nothing a fresh clone has. */
    private static final Set<String> SKIPPED = Set.of("target", "var", ".git", ".cifuzz-corpus");

    @TempDir
    Path dir;

    @Test
    void theLauncherBuildsAnUnbuiltCheckoutAndRuns() throws Exception {
        Path repo = Launched.bin("ddtree").getParent().getParent();
        Path copy = dir.resolve("ddtree");
        copySources(repo, copy);
        assertThat(copy.resolve("daemon/target")).doesNotExist();

        Exec.Result r = Exec.run(Duration.ofMinutes(9), dir, Map.of(),
                List.of(copy.resolve("bin/ddtree").toString(), "--version"));
        assertThat(r.exitCode()).as(r.describe()).isZero();
        assertThat(r.err()).as(r.describe()).contains("building ddtree...");
        assertThat(r.out()).as(r.describe()).startsWith("ddtree ");

        // Built once, the other launchers run without building again.
        Exec.Result setup = Exec.run(Duration.ofMinutes(1), dir, Map.of(),
                List.of(copy.resolve("bin/ddsetup").toString(), "--help"));
        assertThat(setup.exitCode()).as(setup.describe()).isZero();
        assertThat(setup.err()).as(setup.describe()).doesNotContain("building ddtree...");
        assertThat(setup.out()).as(setup.describe()).contains("Usage: ddsetup");
    }

    private static void copySources(Path from, Path to) throws IOException {
        Files.walkFileTree(from, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes attrs) throws IOException {
                if (!d.equals(from) && SKIPPED.contains(d.getFileName().toString())) {
                    return FileVisitResult.SKIP_SUBTREE;
                }
                Files.createDirectories(to.resolve(from.relativize(d)));
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path f, BasicFileAttributes attrs) throws IOException {
                if (attrs.isRegularFile()) { // keeps the launchers' execute bits
                    Files.copy(f, to.resolve(from.relativize(f)), StandardCopyOption.COPY_ATTRIBUTES);
                }
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
