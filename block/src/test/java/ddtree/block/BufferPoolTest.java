package ddtree.block;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class BufferPoolTest {
    private static final int MIB = 1 << 20;

    @Test
    void largeBuffersHaveAPageInFrontAndSmallOnesNone() throws Exception {
        BufferPool pool = new BufferPool(BufferPool.MAX_BUFFER, 0);
        PooledBuffer small = pool.acquire(64 << 10, false);
        PooledBuffer large = pool.acquire(PooledBuffer.HEADED_MIN, false);
        try {
            assertThat(small.headroom()).isZero();
            assertThat(small.frame().address()).isEqualTo(small.segment().address());
            assertThat(large.headroom()).isEqualTo(PooledBuffer.HEADROOM);
            assertThat(large.segment().address() - large.frame().address()).isEqualTo(PooledBuffer.HEADROOM);
            assertThat(large.segment().address() % 4096).as("data page-aligned").isZero();
            assertThat(large.frame().byteSize()).isEqualTo(PooledBuffer.HEADROOM + large.capacity());
            assertThat(large.frameBuffer().capacity()).isEqualTo(PooledBuffer.HEADROOM + large.capacity());
            // Headroom is outside the budget: the data alone is counted.
            assertThat(pool.lentBytes()).isEqualTo((64 << 10) + PooledBuffer.HEADED_MIN);
        } finally {
            small.release();
            large.release();
            pool.close();
        }
    }

    @Test
    void budgetIsNeverExceededUnderConcurrentUse() throws Exception {
        long budget = BufferPool.MAX_BUFFER + 8L * MIB;
        BufferPool pool = new BufferPool(budget, 4L * MIB);
        AtomicLong worstAllocated = new AtomicLong();
        int[] sizes = {100, 4096, 5000, 64 << 10, MIB, 3 * MIB, 8 * MIB, BufferPool.MAX_BUFFER};
        try (ExecutorService threads = Executors.newFixedThreadPool(8)) {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                done.add(threads.submit(() -> {
                    ThreadLocalRandom random = ThreadLocalRandom.current();
                    for (int i = 0; i < 300; i++) {
                        int size = sizes[random.nextInt(sizes.length)];
                        PooledBuffer b = pool.acquire(size, random.nextBoolean());
                        assertThat(b.capacity()).isGreaterThanOrEqualTo(size);
                        worstAllocated.accumulateAndGet(pool.allocatedBytes(), Math::max);
                        b.release();
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get(30, TimeUnit.SECONDS);
            }
        }
        assertThat(pool.peakLentBytes()).isLessThanOrEqualTo(budget);
        assertThat(worstAllocated.get()).isLessThanOrEqualTo(budget);
        assertThat(pool.lentBytes()).isZero();
        pool.close();
        assertThat(pool.allocatedBytes()).isZero();
    }

    @Test
    void acquireWaitsUntilAnotherThreadReleases() throws Exception {
        BufferPool pool = new BufferPool(BufferPool.MAX_BUFFER, 0);
        PooledBuffer all = pool.acquire(BufferPool.MAX_BUFFER, false);
        CompletableFuture<PooledBuffer> waiter = CompletableFuture.supplyAsync(() -> {
            try {
                return pool.acquire(4096, false);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }, task -> Thread.ofPlatform().daemon().start(task));
        Thread.sleep(100);
        assertThat(waiter).isNotDone();
        all.release();
        PooledBuffer b = waiter.get(5, TimeUnit.SECONDS);
        assertThat(b.capacity()).isEqualTo(4096);
        b.release();
        pool.close();
    }

    @Test
    void timedAcquireGivesUpWhenNothingIsReleased() throws Exception {
        BufferPool pool = new BufferPool(BufferPool.MAX_BUFFER, 0);
        PooledBuffer all = pool.acquire(BufferPool.MAX_BUFFER, false);
        assertThat(pool.acquire(4096, false, TimeUnit.MILLISECONDS.toNanos(20))).isNull();
        all.release();
        pool.close();
    }

    @Test
    void reserveIsKeptForReserveRequests() throws Exception {
        long reserve = 8L * MIB;
        BufferPool pool = new BufferPool(BufferPool.MAX_BUFFER + reserve, reserve);
        PooledBuffer ordinary = pool.acquire(BufferPool.MAX_BUFFER, false);
        // The ordinary share is spent; only the reserve is left.
        assertThat(pool.acquire(4096, false, TimeUnit.MILLISECONDS.toNanos(20))).isNull();
        PooledBuffer r1 = pool.acquire(4 * MIB, true);
        PooledBuffer r2 = pool.acquire(4 * MIB, true);
        assertThat(pool.lentBytes()).isEqualTo(BufferPool.MAX_BUFFER + reserve);
        assertThat(pool.acquire(4096, true, TimeUnit.MILLISECONDS.toNanos(20))).isNull();
        r1.release();
        r2.release();
        ordinary.release();
        pool.close();
    }

    @Test
    void releasedBuffersAreReusedAndOtherClassesMakeRoom() throws Exception {
        BufferPool pool = new BufferPool(BufferPool.MAX_BUFFER, 0);
        PooledBuffer a = pool.acquire(4096, false);
        a.release();
        PooledBuffer again = pool.acquire(1000, false);
        assertThat(again).isSameAs(a);
        again.release();
        PooledBuffer big = pool.acquire(BufferPool.MAX_BUFFER, false); // frees the cached 4 KiB one
        assertThat(pool.allocatedBytes()).isEqualTo(BufferPool.MAX_BUFFER);
        big.release();
        PooledBuffer small = pool.acquire(8192, false); // and this frees the cached big one
        assertThat(pool.allocatedBytes()).isEqualTo(8192);
        small.release();
        pool.close();
    }

    @Test
    void doubleReleaseThrows() throws Exception {
        BufferPool pool = new BufferPool(BufferPool.MAX_BUFFER, 0);
        PooledBuffer b = pool.acquire(4096, false);
        b.release();
        assertThatThrownBy(b::release).isInstanceOf(IllegalStateException.class).hasMessageContaining("twice");
        pool.close();
    }

    @Test
    void closeFreesCachedBuffersAndLentOnesAsTheyReturn() throws Exception {
        BufferPool pool = new BufferPool(BufferPool.MAX_BUFFER, 0);
        PooledBuffer cached = pool.acquire(MIB, false);
        cached.release();
        PooledBuffer lent = pool.acquire(4096, false);
        assertThat(pool.allocatedBytes()).isEqualTo(MIB + 4096);
        pool.close();
        assertThat(pool.allocatedBytes()).isEqualTo(4096);
        lent.release();
        assertThat(pool.allocatedBytes()).isZero();
        assertThat(pool.awaitIdle(1, TimeUnit.SECONDS)).isTrue();
        assertThatThrownBy(() -> pool.acquire(4096, false)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void badArgumentsAreRefusedWithTheValue() {
        assertThatThrownBy(() -> new BufferPool(MIB, 0)).hasMessageContaining(String.valueOf(MIB));
        assertThatThrownBy(() -> new BufferPool(BufferPool.MAX_BUFFER, 1)).hasMessageContaining("reserve (1)");
        BufferPool pool = new BufferPool(BufferPool.MAX_BUFFER, 0);
        assertThatThrownBy(() -> pool.acquire(BufferPool.MAX_BUFFER + 1, false))
                .hasMessageContaining(String.valueOf(BufferPool.MAX_BUFFER + 1));
        assertThatThrownBy(() -> pool.acquire(-1, false)).hasMessageContaining("(-1)");
        pool.close();
    }
}
