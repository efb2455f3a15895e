package ddtree.bench;

import ddtree.block.BlockDevice;
import ddtree.block.BufferPool;
import ddtree.block.device.FileDevice;
import ddtree.block.device.RamDevice;
import ddtree.nbd.Export;
import ddtree.nbd.ExportTable;
import ddtree.nbd.NbdServer;
import ddtree.nbd.NbdServerConfig;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The whole NBD request path in one process: an {@link NbdServer} on loopback serving a RAM
 * device (or, with {@code -p device=file}, a file device on a temporary file), driven by
 * {@link NbdBenchClient} over a real TCP socket.
 *
 * <p>Each operation is one 4 KiB request (batched benchmarks divide by the batch size with
 * {@link OperationsPerInvocation}), except {@code read1mDepth8}'s 1 MiB reads on a second
 * connection, whose replies the reader hands to the connection's reply thread when a CPU is to
 * spare. Run with {@code -prof gc}: {@code gc.alloc.rate.norm} counts
 * the bytes every thread of the JVM allocated, the server's connection threads included, per
 * request. The client allocates nothing per request, so the figure is the server's; the design
 * target is 0 in steady state.
 */
@State(Scope.Thread)
@BenchmarkMode({Mode.Throughput})
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 3)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED",
        "-Xms512m", "-Xmx512m"})
@Threads(1)
public class RequestPathBenchmark {
    static final int REQUEST = 4096;
    /** The large reads' size: above the size whose replies go to the connection's reply thread. */
    static final int LARGE_REQUEST = 1 << 20;
    static final String EXPORT = "ram0";

    /** {@code ram}: a RamDevice; {@code file}: a FileDevice on a temporary file (page cache). */
    @Param({"ram"})
    public String device;

    /** Size of the device; requests land at random aligned offsets across it. */
    @Param({"67108864"})
    public long deviceBytes;

    /**
     * Serve connections on virtual threads or on platform threads (the server's default); compare
     * both with {@code -p virtualThreads=false,true}.
     */
    @Param({"false"})
    public boolean virtualThreads;

    /**
     * How long a connection polls for its next request before it sleeps (the server's default is
     * 50); {@code -p busyPollMicros=0,50} compares.
     */
    @Param({"50"})
    public int busyPollMicros;

    /**
     * The CPUs the server counts (0: the machine's). With 1 the benchmark's one busy connection
     * leaves none to spare, as many clients would: copied large reads are then not handed to the
     * reply thread, and the socket's unsent data is capped ({@code -p cpus=0,1} compares).
     */
    @Param({"0"})
    public int cpus;

    private BufferPool buffers;
    private BlockDevice dev;
    private Path file;
    private NbdServer server;
    private NbdBenchClient client;
    private NbdBenchClient large;

    @Setup(Level.Trial)
    public void start() throws IOException {
        buffers = new BufferPool(64L << 20, 4L << 20);
        dev = switch (device) {
            case "ram" -> new RamDevice(EXPORT, deviceBytes);
            case "file" -> {
                file = Files.createTempFile("ddtree-bench", ".img");
                Files.delete(file); // FileDevice.open creates it at the size asked for
                yield FileDevice.open(EXPORT, file, deviceBytes, false);
            }
            default -> throw new IllegalArgumentException("device must be ram or file, not " + device);
        };
        ExportTable exports = new ExportTable();
        exports.put(new Export(EXPORT, "benchmark " + device + " device", dev, false));
        NbdServerConfig config = NbdServerConfig.loopback(0).withVirtualThreads(virtualThreads)
                .withBusyPollMicros(busyPollMicros).withCpus(cpus);
        server = new NbdServer(config, exports, buffers);
        server.start();
        InetSocketAddress address = server.localAddress();
        client = NbdBenchClient.connect(address, EXPORT, REQUEST, 32);
        large = NbdBenchClient.connect(address, EXPORT, LARGE_REQUEST, 8);
        // Touch the whole device once so reads never meet pages the device has not yet allocated.
        for (long off = 0; off < deviceBytes; off += REQUEST) {
            client.write(off);
        }
    }

    @TearDown(Level.Trial)
    public void stop() throws IOException {
        try {
            if (client != null) {
                client.close();
            }
            if (large != null) {
                large.close();
            }
        } finally {
            if (server != null) {
                server.close();
            }
            if (dev != null) {
                dev.close();
            }
            if (buffers != null) {
                buffers.close();
            }
            if (file != null) {
                Files.deleteIfExists(file);
            }
        }
    }

    /** The benchmark's client, for tests. */
    NbdBenchClient client() {
        return client;
    }

    @Benchmark
    public void read4k() throws IOException {
        client.read(client.randomOffset());
    }

    @Benchmark
    public void write4k() throws IOException {
        client.write(client.randomOffset());
    }

    /**
     * A write and then a FLUSH, each waited for: two requests. On a file device the flush
     * completes on the device's flush thread, so its reply takes the connection's path for
     * completions from other threads.
     */
    @Benchmark
    @OperationsPerInvocation(2)
    public void write4kFlush() throws IOException {
        client.write(client.randomOffset());
        client.flush();
    }

    @Benchmark
    @OperationsPerInvocation(8)
    public void read4kDepth8() throws IOException {
        client.batch(NbdBenchClient.CMD_READ, 8);
    }

    @Benchmark
    @OperationsPerInvocation(8)
    public void write4kDepth8() throws IOException {
        client.batch(NbdBenchClient.CMD_WRITE, 8);
    }

    @Benchmark
    @OperationsPerInvocation(32)
    public void read4kDepth32() throws IOException {
        client.batch(NbdBenchClient.CMD_READ, 32);
    }

    @Benchmark
    @OperationsPerInvocation(32)
    public void write4kDepth32() throws IOException {
        client.batch(NbdBenchClient.CMD_WRITE, 32);
    }

    @Benchmark
    @OperationsPerInvocation(8)
    public void read1mDepth8() throws IOException {
        large.batch(NbdBenchClient.CMD_READ, 8);
    }
}
