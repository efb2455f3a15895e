package ddtree.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Replication as a user runs it: two daemons started with bin/ddtree, and a delta piped from
 * {@code bin/ddsnap delta create} on one to {@code bin/ddsnap delta apply} on the other. Runs
 * after package (failsafe), so the launchers find the project built.
 */
@Timeout(300)
class DdsnapReplicationIT {
    static final Duration START = Launched.START;
    static Path bin;

    @TempDir
    Path dir;

    @BeforeAll
    static void findLaunchers() {
        bin = Launched.bin("ddsnap").getParent();
    }

    /** bin/ddtree serve with its state in {@code dir/NAME}; closing kills it. */
    final class Serve implements AutoCloseable {
        final Launched daemon;
        final Path state;

        Serve(String name) throws Exception {
            state = dir.resolve(name);
            daemon = new Launched(dir, dir.resolve(name + ".log"), Launched.freePort(),
                    List.of("--state", state.toString(), "--device", "spare=ram:1M"));
        }

        String control() {
            return state.resolve("control.sock").toString();
        }

        String uri(String export) {
            return daemon.uri(export);
        }

        /** bin/ddsnap --control THIS ARGS, which must succeed. */
        Exec.Result ddsnap(String... args) {
            List<String> cmd = new ArrayList<>(List.of(bin.resolve("ddsnap").toString(), "--control", control()));
            cmd.addAll(List.of(args));
            return Exec.run(START, dir, Map.of(), cmd).assertOk();
        }

        @Override
        public void close() {
            daemon.close();
        }
    }

    /** {@code bash -c "set -o pipefail; COMMAND"} in the test's directory. */
    Exec.Result pipe(String command) {
        return Exec.run(START, dir, Map.of(), List.of("bash", "-c", "set -o pipefail; " + command));
    }

    @Test
    void aDeltaPipedFromOneDaemonToAnotherReplicatesTheSnapshots() throws Exception {
        Tools.requireAll("qemu-io", "nbdcopy");
        try (Serve a = new Serve("a"); Serve b = new Serve("b")) {
            for (Serve s : List.of(a, b)) {
                s.ddsnap("init", "vm", "--origin", "file:" + s.state.resolve("vm.img") + ":8M",
                        "--store", "file:" + s.state.resolve("vm.snap") + ":32M", "--chunk-size", "64K");
            }
            TestDaemons.qemuIoOk(a.uri("vm"), "write -P 0x41 0 3M", "write -P 0x42 5M 64k", "write -P 0x43 7777777 4444");
            a.ddsnap("create", "vm", "a");
            TestDaemons.qemuIoOk(a.uri("vm"), "write -P 0x51 1M 8k", "write -z 2M 64k", "write -P 0x52 6M 100k");
            a.ddsnap("create", "vm", "b");

            String ddsnap = bin.resolve("ddsnap").toString();
            String fromA = ddsnap + " --control " + a.control() + " delta create vm ";
            String toB = ddsnap + " --control " + b.control() + " delta apply vm";
            Exec.Result full = pipe(fromA + "a | " + toB);
            assertThat(full.exitCode()).as(full.describe()).isZero();
            assertThat(full.out()).contains("snapshot a of vm received");

            // A stream cut short on its way is refused, and both ends of the pipe fail: the sender
            // on its closed pipe, the receiver on the stream.
            Exec.Result cut = pipe(fromA + "a b --no-compress | head -c 70000 | " + toB
                    + "; s=(${PIPESTATUS[@]}); echo \"exits ${s[*]}\" >&2; exit ${s[2]}");
            assertThat(cut.exitCode()).as(cut.describe()).isEqualTo(1);
            assertThat(cut.err()).as(cut.describe()).contains("exits 1 0 1", "cannot write the stream to standard output",
                    "cut short", "volume vm is as it was");
            // And a stream that cannot be written is not reported as sent.
            Exec.Result full2 = pipe(fromA + "a b > /dev/full");
            assertThat(full2.exitCode()).as(full2.describe()).isEqualTo(1);
            assertThat(full2.err()).as(full2.describe()).contains("cannot write the stream to standard output")
                    .doesNotContain("ddsnap: delta a -> b: ");

            Exec.Result inc = pipe(fromA + "a b | " + toB);
            assertThat(inc.exitCode()).as(inc.describe()).isZero();
            assertThat(inc.out()).contains("snapshot b of vm received");
            assertThat(inc.err()).contains("ddsnap: delta a -> b: ");

            Path scratch = Files.createDirectories(dir.resolve("scratch"));
            VolumeImages.assertSameExports(a.uri("vm@a"), b.uri("vm@a"), scratch, "snapshot a");
            VolumeImages.assertSameExports(a.uri("vm@b"), b.uri("vm@b"), scratch, "snapshot b");
            VolumeImages.assertSameExports(a.uri("vm@b"), b.uri("vm"), scratch, "B's volume");
            TestDaemons.qemuIoOk(List.of("-r"), b.uri("vm@b"), "read -P 0x51 1M 8k", "read -P 0 2M 64k",
                    "read -P 0x41 " + (2 * MIB + 64 * 1024) + " 64k", "read -P 0x43 7777777 4444");
        }
    }

    static final long MIB = 1 << 20;
}
