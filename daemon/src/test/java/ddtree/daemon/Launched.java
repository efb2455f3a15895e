package ddtree.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * {@code ddtree serve} in a process of its own: through {@code bin/ddtree} as a user runs it, for
 * the tests that run after package (failsafe) and so find the project built, or in a JVM on the
 * test's class path. Closing kills it.
 */
final class Launched implements AutoCloseable {
    /** A launcher may have to build the project first. */
    static final Duration START = Duration.ofSeconds(120);

    final Process process;
    final Path log;
    final int port;

    /**
     * Runs {@code bin/ddtree serve --listen 127.0.0.1:PORT ARGS} in {@code cwd} with its output in
     * {@code log}, and returns once its banner is out.
     */
    Launched(Path cwd, Path log, int port, List<String> args) throws Exception {
        this(cwd, log, port, List.of(bin("ddtree").toString()), args);
    }

    /** As above, with the daemon's main class in a JVM on this test's class path instead of the launcher. */
    static Launched inJvm(Path cwd, Path log, int port, List<String> args) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return new Launched(cwd, log, port, List.of(java, "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), "ddtree.daemon.Main"), args);
    }

    private Launched(Path cwd, Path log, int port, List<String> ddtree, List<String> args) throws Exception {
        this.log = log;
        this.port = port;
        List<String> cmd = new ArrayList<>(ddtree);
        cmd.addAll(List.of("serve", "--listen", "127.0.0.1:" + port));
        cmd.addAll(args);
        process = Exec.start(cwd, log, cmd);
        // The banner ends with the nbdfuse line.
        boolean up = TestDaemons.await(START, () -> output().contains("  nbdfuse DIR ") || !process.isAlive());
        if (!(up && process.isAlive())) {
            Exec.kill(process);
            throw new AssertionError("daemon did not start; output:\n" + output());
        }
    }

    /** The launcher {@code name} in the project's bin directory, found above the working directory. */
    static Path bin(String name) {
        Path d = Path.of("").toAbsolutePath();
        while (d != null && !Files.isExecutable(d.resolve("bin").resolve(name))) {
            d = d.getParent();
        }
        assertThat(d).as("bin/" + name + " above " + Path.of("").toAbsolutePath()).isNotNull();
        return d.resolve("bin").resolve(name);
    }

    /** A loopback port free at the moment of asking. */
    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            return s.getLocalPort();
        }
    }

    String uri(String export) {
        return "nbd://127.0.0.1:" + port + "/" + export;
    }

    String output() {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "";
        }
    }

    /** SIGTERM, then the exit code. */
    int stop() throws InterruptedException {
        process.destroy();
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("stopped within 60 s; output:\n" + output()).isTrue();
        return process.exitValue();
    }

    /** SIGKILL, as a crash or a power cut would stop it. */
    void crash() throws InterruptedException {
        process.destroyForcibly();
        assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
    }

    @Override
    public void close() {
        Exec.kill(process);
    }
}
