package ddtree.bench;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * Runs each benchmark method a few times outside JMH, so the build proves the benchmark still
 * works against the server without spending benchmark time.
 */
class RequestPathBenchmarkSmokeTest {

    @Test
    void everyBenchmarkMethodCompletesAgainstTheServer() throws Exception {
        RequestPathBenchmark bench = new RequestPathBenchmark();
        bench.device = "ram";
        bench.deviceBytes = 8L << 20;
        bench.virtualThreads = true;
        bench.start();
        try {
            for (int i = 0; i < 16; i++) {
                bench.read4k();
                bench.write4k();
                bench.write4kFlush();
                bench.read4kDepth8();
                bench.write4kDepth8();
                bench.read4kDepth32();
                bench.write4kDepth32();
                bench.read1mDepth8();
            }
        } finally {
            bench.stop();
        }
    }

    @Test
    void clientNegotiatesTheExportSizeOfAFileDevice() throws Exception {
        RequestPathBenchmark bench = new RequestPathBenchmark();
        bench.device = "file";
        bench.deviceBytes = 1L << 20;
        bench.virtualThreads = false;
        bench.start();
        try {
            assertThat(bench.client().exportSize()).isEqualTo(1L << 20);
            bench.client().flush();
            bench.write4kFlush();
            bench.read4kDepth8();
        } finally {
            bench.stop();
        }
    }
}
