package ddtree.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

/** Starts daemons in-process on a free loopback port, and drives clients against them. */
final class TestDaemons {
    private TestDaemons() {}

    static final Duration CLIENT_TIMEOUT = Duration.ofSeconds(60);

    /**
     * Starts a daemon with its state in {@code dir/state} serving {@code devices} (written as for
     * {@code --device}) on 127.0.0.1, port chosen by the system.
     */
    static Daemon start(Path dir, List<String> readOnly, String... devices) throws IOException {
        return start(dir, 0, readOnly, devices);
    }

    /** As above on a given port, e.g. to restart a daemon where its clients will look for it. */
    static Daemon start(Path dir, int port, String... devices) throws IOException {
        return start(dir, port, List.of(), devices);
    }

    private static Daemon start(Path dir, int port, List<String> readOnly, String... devices) throws IOException {
        List<DeviceSpec> specs = new ArrayList<>();
        for (String d : devices) {
            specs.add(DeviceSpec.parse(d));
        }
        Daemon daemon = new Daemon(DaemonConfig.loopback(dir.resolve("state"), port, specs, readOnly));
        daemon.start();
        return daemon;
    }

    static Daemon start(Path dir, String... devices) throws IOException {
        return start(dir, List.of(), devices);
    }

    /** Runs {@code qemu-io -f raw URI -c CMD...}. */
    static Exec.Result qemuIo(String uri, String... commands) {
        return qemuIo(List.of(), uri, commands);
    }

    static Exec.Result qemuIo(List<String> options, String uri, String... commands) {
        List<String> cmd = new ArrayList<>(List.of(Tools.require("qemu-io"), "-f", "raw"));
        cmd.addAll(options);
        cmd.add(uri);
        for (String c : commands) {
            cmd.add("-c");
            cmd.add(c);
        }
        return Exec.run(CLIENT_TIMEOUT, cmd);
    }

    /**
     * Runs qemu-io commands that must all succeed: exit 0, no pattern mismatch, no I/O error, and
     * one "read"/"wrote" line per read or write.
     */
    static Exec.Result qemuIoOk(String uri, String... commands) {
        return qemuIoOk(List.of(), uri, commands);
    }

    static Exec.Result qemuIoOk(List<String> options, String uri, String... commands) {
        Exec.Result r = qemuIo(options, uri, commands).assertOk();
        assertThat(r.all()).as(r.describe()).doesNotContain("Pattern verification failed")
                .doesNotContainIgnoringCase("error").doesNotContain("failed");
        long transfers = 0;
        for (String c : commands) {
            if (c.startsWith("read") || c.startsWith("write")) {
                transfers++;
            }
        }
        long done = r.out().lines().filter(l -> l.startsWith("read ") || l.startsWith("wrote ")).count();
        assertThat(done).as("completed reads and writes in\n" + r.describe()).isEqualTo(transfers);
        return r;
    }

    /** Waits up to {@code timeout} for {@code condition}; returns whether it came true. */
    static boolean await(Duration timeout, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (condition.getAsBoolean()) {
                return true;
            }
            Thread.sleep(20);
        }
        return condition.getAsBoolean();
    }
}
