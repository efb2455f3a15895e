package ddtree.nbd.client;

import static org.assertj.core.api.Assertions.assertThat;

import ddtree.block.Bio;
import ddtree.block.BioCompletion;
import ddtree.block.BufferPool;
import ddtree.block.Dispatch;
import ddtree.block.Errno;
import ddtree.block.Op;
import ddtree.block.PooledBuffer;
import ddtree.block.device.RamDevice;
import java.lang.management.ManagementFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;

/** The client's own threads allocate nothing per request once warm. */
class NbdClientAllocationTest {
    /**
     * Completes by unparking the waiting thread; reused for every request. It returns false, so
     * that {@link Bio#complete} stops walking the bio's completion stack here: the waiting thread
     * resets and resubmits the same bio as soon as it wakes, and a walk still running would see
     * the next request's step.
     */
    static final class Waiter implements BioCompletion {
        final Thread owner = Thread.currentThread();
        volatile boolean done;

        @Override
        public boolean bioDone(Bio bio, long state) {
            done = true;
            LockSupport.unpark(owner);
            return false;
        }

        void await() {
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!done) {
                if (System.nanoTime() > until) {
                    throw new AssertionError("request did not complete in 30 s");
                }
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
            }
        }
    }

    @Test
    void steadyStateReadsAndWritesAllocateNothingOnClientThreads() throws Exception {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (RamDevice ram = new RamDevice("ram", 16 << 20);
                RemoteServer server = new RemoteServer().export("disk", ram, false)) {
            server.start(0);
            NbdClientDevice client = NbdClientDevice.connect("alloc", "127.0.0.1", server.port(), "disk",
                    ClientOptions.defaults());
            // Its own bio and completion rather than DeviceIo's, whose per-request future would count.
            BufferPool pool = new BufferPool(64L << 20, 0);
            try {
                PooledBuffer buffer = pool.acquire(65536, false);
                Bio bio = new Bio();
                Waiter waiter = new Waiter();
                long[] ids = {Thread.currentThread().threadId(), readerOf(client).threadId()};
                long before = 0;
                int rounds = 3000;
                for (int i = 0; i < 2 * rounds; i++) {
                    if (i == rounds) {
                        before = total(mx, ids);
                    }
                    Op op = (i & 1) == 0 ? Op.WRITE : Op.READ;
                    long offset = ((long) i * 65536) % (16 << 20);
                    int length = 4096 + (i % 3) * 4096 * 5;
                    waiter.done = false;
                    bio.reset(op, offset, length, 0, buffer);
                    bio.pushCompletion(waiter, 0);
                    Dispatch.submit(client, bio);
                    waiter.await();
                    if (bio.status() != Errno.OK) {
                        throw new AssertionError(op + " failed: " + Errno.name(bio.status()));
                    }
                }
                long perRequest = (total(mx, ids) - before) / rounds;
                assertThat(perRequest).as("bytes allocated per request on the submitting and reader threads")
                        .isLessThan(16);
                buffer.release();
            } finally {
                client.close();
                pool.close();
            }
        }
    }

    private static long total(com.sun.management.ThreadMXBean mx, long[] ids) {
        long sum = 0;
        for (long a : mx.getThreadAllocatedBytes(ids)) {
            sum += a;
        }
        return sum;
    }

    private static Thread readerOf(NbdClientDevice client) {
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().equals("nbd-client-read " + client.name() + " #1")) {
                return t;
            }
        }
        throw new AssertionError("no reader thread for " + client.name());
    }
}
