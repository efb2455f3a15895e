package ddtree.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** 64 client processes at once against one daemon; each gets its own data back. */
@Timeout(240)
class ManyClientsTest {
    static final int CLIENTS = 64;
    static final int REGION = 64 << 10;

    @TempDir
    Path dir;

    Daemon daemon;

    @BeforeEach
    void start() throws Exception {
        daemon = TestDaemons.start(dir, "ram=ram:16M", "file=file:" + dir.resolve("file.img") + ":16M");
    }

    @AfterEach
    void stop() throws Exception {
        if (daemon != null) {
            daemon.close();
        }
    }

    @Test
    void sixtyFourWritersAtOnce() throws Exception {
        String qemuIo = Tools.require("qemu-io");
        String uri = daemon.uri("file");
        List<Exec.Result> results = runAll(CLIENTS, i -> List.of(qemuIo, "-f", "raw", uri,
                "-c", "write -P " + pattern(i) + " " + (long) i * REGION + " " + REGION,
                "-c", "read -P " + pattern(i) + " " + (long) i * REGION + " " + REGION));
        for (Exec.Result r : results) {
            assertThat(r.ok()).as(r.describe()).isTrue();
            assertThat(r.all()).as(r.describe()).doesNotContain("Pattern verification failed");
        }
        // Every region holds its own writer's pattern, read over one fresh connection.
        String[] reads = new String[CLIENTS + 1];
        for (int i = 0; i < CLIENTS; i++) {
            reads[i] = "read -P " + pattern(i) + " " + (long) i * REGION + " " + REGION;
        }
        reads[CLIENTS] = "read -P 0 " + (long) CLIENTS * REGION + " " + REGION;
        TestDaemons.qemuIoOk(uri, reads);
        assertStillServing();
    }

    @Test
    void sixtyFourNbdinfosAtOnce() throws Exception {
        String nbdinfo = Tools.require("nbdinfo");
        List<Exec.Result> results = runAll(CLIENTS, i -> List.of(nbdinfo, "--size", daemon.uri(i % 2 == 0 ? "ram" : "file")));
        for (Exec.Result r : results) {
            assertThat(r.ok()).as(r.describe()).isTrue();
            assertThat(r.out().strip()).isEqualTo(String.valueOf(16 << 20));
        }
        assertStillServing();
    }

    private void assertStillServing() throws Exception {
        TestDaemons.qemuIoOk(daemon.uri("ram"), "write -P 0x61 0 4k", "read -P 0x61 0 4k");
        assertThat(TestDaemons.await(Duration.ofSeconds(10), () -> daemon.server().connectionCount() == 0))
                .as("every connection closed; open: " + daemon.server().connectionCount()).isTrue();
    }

    static int pattern(int i) {
        return 1 + (i * 37) % 255;
    }

    interface Command {
        List<String> of(int i);
    }

    /** Starts {@code n} processes together and waits for all, two minutes at most. */
    static List<Exec.Result> runAll(int n, Command command) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            List<Future<Exec.Result>> futures = new ArrayList<>();
            java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
            for (int i = 0; i < n; i++) {
                int id = i;
                futures.add(pool.submit(() -> {
                    go.await();
                    return Exec.run(Duration.ofSeconds(90), command.of(id));
                }));
            }
            go.countDown();
            List<Exec.Result> results = new ArrayList<>();
            for (Future<Exec.Result> f : futures) {
                results.add(f.get(120, TimeUnit.SECONDS));
            }
            return results;
        } finally {
            pool.shutdownNow();
            pool.awaitTermination(30, TimeUnit.SECONDS);
        }
    }
}
