package ddtree.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import ddtree.ddlink.DdlinkClient;
import ddtree.ddlink.Event;
import ddtree.ddlink.Subscription;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A flakey device taken down with a message fails its client's writes with EIO while a client of
 * another device goes on untouched; subscribers see the devices come and go and the flakey
 * target's own events.
 */
@Timeout(120)
class FlakeyAndEventsTest {
    @TempDir
    Path dir;

    @Test
    void writesFailWhileDownAndTheOtherDeviceIsUntouched() throws Exception {
        try (Daemon d = TestDaemons.start(dir, "base=ram:8M", "other=ram:8M")) {
            DdsetupCli cli = new DdsetupCli(d);
            List<Event> events = new CopyOnWriteArrayList<>();
            try (Subscription sub = DdlinkClient.subscribe(d.controlSocket(), "test", events::add)) {
                cli.ok("create", "fl", "--table", "0 16384 flakey base 0 3600 0 1 error_writes");
                cli.ok("export", "fl");
                String fl = d.uri("fl");
                String other = d.uri("other");
                TestDaemons.qemuIoOk(fl, "write -P 0x11 0 64k");

                cli.ok("message", "fl", "0", "down");
                assertThat(cli.ok("status", "fl").out()).contains("down");
                Exec.Result failed = TestDaemons.qemuIo(fl, "write -P 0x22 0 64k");
                assertThat(failed.all()).as(failed.describe()).contains("Input/output error");
                // Reads still work (error_writes fails writes only) and see the data from before.
                TestDaemons.qemuIoOk(fl, "read -P 0x11 0 64k");
                // The other device's client never notices.
                TestDaemons.qemuIoOk(other, "write -P 0x33 0 1M", "read -P 0x33 0 1M", "flush");

                cli.ok("message", "fl", "0", "up");
                TestDaemons.qemuIoOk(fl, "write -P 0x44 0 64k", "read -P 0x44 0 64k");

                cli.ok("rename", "fl", "fl2");
                cli.ok("unexport", "fl2");
                cli.ok("remove", "fl2");
                boolean all = TestDaemons.await(Duration.ofSeconds(10), () -> events.size() >= 7);
                assertThat(all).as("events: " + events).isTrue();
                assertThat(events).containsSubsequence(
                        new Event("created", "fl", ""),
                        new Event("exported", "fl", "fl"),
                        new Event("target", "fl", "flakey at sector 0 is down"),
                        new Event("target", "fl", "flakey at sector 0 is up"),
                        new Event("renamed", "fl2", "fl"),
                        new Event("unexported", "fl2", "fl"),
                        new Event("removed", "fl2", ""));
            }
        }
    }
}
