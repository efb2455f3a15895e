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
 * {@code bin/ddtree serve} run as a user runs it, for the tests that run after package
 * (failsafe) and so find the project built. Closing kills it.
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
        this.log = log;
        this.port = port;
        List<String> cmd = new ArrayList<>(List.of(bin("ddtree").toString(), "serve", "--listen", "127.0.0.1:" + port));
        cmd.addAll(args);
        process = Exec.start(cwd, log, cmd);
        // The banner ends with the nbdfuse line.
        boolean up = TestDaemons.await(START, () -> output().contains("  nbdfuse DIR ") || !process.isAlive());
        assertThat(up && process.isAlive()).as("daemon started; output:\n" + output()).isTrue();
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

    @Override
    public void close() {
        Exec.kill(process);
    }
}
