package ddtree.nbd.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import ddtree.block.Bio;
import ddtree.block.BufferPool;
import ddtree.block.Errno;
import ddtree.block.Extents;
import ddtree.block.ForwardingDevice;
import ddtree.block.device.RamDevice;
import ddtree.nbd.Export;
import ddtree.nbd.ExportTable;
import ddtree.nbd.NbdConnection;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.GatheringByteChannel;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;

/**
 * Fuzzes the NBD server's handshake and request parser. The fuzzer's bytes are everything a client
 * sends on one connection (then the client hangs up); the server's replies go to a sink that
 * accepts everything. After each connection:
 *
 * <ul>
 *   <li>{@link NbdConnection#run} returned, threw nothing, and logged no ERROR (it catches
 *       unexpected exceptions and logs them, which would otherwise hide a crash);
 *   <li>every buffer went back to the pool and every device's in-flight budget is empty;
 *   <li>no request reached a device outside its range, and the read-only export and the device
 *       that is not exported at all were never changed.
 * </ul>
 *
 * <p>Without {@code JAZZER_FUZZ} set this runs the seeds in {@code NbdProtocolFuzzTestInputs} as
 * an ordinary test (without Jazzer's hooks, which only slow that down); {@code bench/fuzz.sh
 * SECONDS} fuzzes for a bounded time.
 */
class NbdProtocolFuzzTest {
    /** Odd-sized, so the tail checks of requests near the end get exercised. */
    static final long RW_SIZE = (256 << 10) + 512;
    static final long RO_SIZE = 128 << 10;
    static final int SLOTS = 16;

    /** Shared by every run, so cached buffers are reused; each run must give back what it took. */
    private static final BufferPool BUFFERS = new BufferPool(BufferPool.MAX_BUFFER + (4L << 20), 4L << 20);

    static {
        RecordingLogs.install();
    }

    /**
     * Replaying the seeds needs none of Jazzer's bug-detector hooks, and installing them costs
     * some 20 s; fuzzing (JAZZER_FUZZ set) keeps them, and {@code -Djazzer.hooks=true} does too.
     * Runs before Jazzer configures its agent, which happens when the fuzz test's arguments are
     * first asked for.
     */
    @BeforeAll
    static void seedsOnlyNeedNoHooks() {
        if (System.getenv().getOrDefault("JAZZER_FUZZ", "").isEmpty() && System.getProperty("jazzer.hooks") == null) {
            System.setProperty("jazzer.hooks", "false");
        }
    }

    @FuzzTest(maxDuration = "60s")
    void connection(byte[] clientBytes) throws Exception {
        long errorsBefore = RecordingLogs.errors();
        RamDevice rw = new RamDevice("rw", RW_SIZE);
        RamDevice ro = new RamDevice("ro", RO_SIZE);
        RamDevice hidden = new RamDevice("hidden", RO_SIZE);
        GuardDevice rwGuard = new GuardDevice(rw, false);
        GuardDevice roGuard = new GuardDevice(ro, true);
        try {
            ExportTable exports = new ExportTable();
            exports.put(new Export("rw", "fuzzed read-write export", rwGuard, false));
            exports.put(new Export("ro", "fuzzed read-only export", roGuard, true));
            exports.setDefaultName("rw");

            ScriptedChannel channel = new ScriptedChannel(clientBytes);
            new NbdConnection(channel, exports, BUFFERS, SLOTS, "fuzz").run();

            assertThat(channel.isOpen()).as("connection closed its channel").isFalse();
            assertThat(BUFFERS.lentBytes()).as("buffers still lent after the connection ended").isZero();
            for (GuardDevice g : List.of(rwGuard, roGuard)) {
                assertThat(g.violations).as("requests outside what %s allows", g.name()).isEmpty();
                assertThat(g.budget().requestsInFlight()).as("%s requests in flight", g.name()).isZero();
                assertThat(g.budget().bytesInFlight()).as("%s bytes in flight", g.name()).isZero();
                assertThat(g.outstanding).as("%s bios never completed", g.name()).isZero();
            }
            assertThat(ro.allocatedBytes()).as("read-only export was written").isZero();
            assertThat(hidden.allocatedBytes()).as("device that is not exported was written").isZero();
            if (RecordingLogs.active()) {
                assertThat(RecordingLogs.errors() - errorsBefore)
                        .as("errors logged (last: %s)", RecordingLogs.lastError())
                        .isZero();
            }
        } finally {
            rw.close();
            ro.close();
            hidden.close();
        }
    }

    /**
     * The client side of a connection: reads return the scripted bytes, in varying chunk sizes so
     * partial reads are exercised, then end of stream; writes are swallowed whole.
     */
    static final class ScriptedChannel implements ByteChannel, GatheringByteChannel {
        private static final int[] CHUNKS = {4096, 1, 7, 65536, 28, 3, 1 << 20, 512};
        private final byte[] input;
        private int position;
        private int reads;
        private long written;
        private volatile boolean open = true;

        ScriptedChannel(byte[] input) {
            this.input = input;
        }

        @Override
        public synchronized int read(ByteBuffer dst) throws IOException {
            if (!open) {
                throw new ClosedChannelException();
            }
            if (position >= input.length) {
                return -1;
            }
            int n = Math.min(Math.min(dst.remaining(), input.length - position), CHUNKS[reads++ % CHUNKS.length]);
            dst.put(input, position, n);
            position += n;
            return n;
        }

        @Override
        public synchronized int write(ByteBuffer src) throws IOException {
            if (!open) {
                throw new ClosedChannelException();
            }
            int n = src.remaining();
            src.position(src.limit());
            written += n;
            return n;
        }

        @Override
        public synchronized long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
            long n = 0;
            for (int i = offset; i < offset + length; i++) {
                n += write(srcs[i]);
            }
            return n;
        }

        @Override
        public long write(ByteBuffer[] srcs) throws IOException {
            return write(srcs, 0, srcs.length);
        }

        @Override
        public boolean isOpen() {
            return open;
        }

        @Override
        public void close() {
            open = false;
        }
    }

    /**
     * Passes requests to a device after checking that they stay inside it (and change nothing on
     * a read-only export); a request that would not is recorded and failed instead of reaching
     * the device.
     */
    static final class GuardDevice extends ForwardingDevice {
        private final boolean readOnly;
        final List<String> violations = new ArrayList<>();
        volatile int outstanding;

        GuardDevice(RamDevice inner, boolean readOnly) {
            super(inner);
            this.readOnly = readOnly;
        }

        @Override
        public synchronized void submit(Bio bio) {
            String bad = check(bio);
            if (bad != null) {
                violations.add(bad + ": " + bio);
                bio.complete(Errno.EIO);
                return;
            }
            outstanding++;
            bio.pushCompletion((b, state) -> {
                synchronized (this) {
                    outstanding--;
                }
                return true;
            }, 0);
            inner.submit(bio);
        }

        private String check(Bio bio) {
            long size = inner.size();
            if (bio.offset() < 0 || bio.length() < 0 || bio.offset() > size || bio.length() > size - bio.offset()) {
                return "outside the device of " + size + " bytes";
            }
            if (readOnly && bio.op().modifies()) {
                return "modifies a read-only export";
            }
            if (bio.op().carriesData()) {
                if (bio.buffer() == null) {
                    return "no buffer";
                }
                if (bio.bufferOffset() < 0 || bio.length() > bio.buffer().capacity() - (long) bio.bufferOffset()) {
                    return "longer than its buffer";
                }
            }
            return null;
        }

        @Override
        public void extents(long offset, long length, Extents out) throws IOException {
            long size = inner.size();
            if (offset < 0 || length < 0 || offset > size || length > size - offset) {
                synchronized (this) {
                    violations.add("extents outside the device: " + offset + "+" + length);
                }
                return;
            }
            inner.extents(offset, length, out);
        }

        @Override
        public void close() {
            // the test closes the device it wraps
        }
    }
}
