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
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class InflightBudgetTest {
    private static final long MAX_BYTES = BufferPool.MAX_BUFFER + (8L << 20);

    private static CompletableFuture<Void> acquireAsync(InflightBudget budget, long bytes, boolean reserve) {
        return CompletableFuture.runAsync(() -> {
            try {
                budget.acquire(bytes, reserve);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }, task -> Thread.ofPlatform().daemon().start(task));
    }

    @Test
    void requestsBeyondTheLimitWaitForARelease() throws Exception {
        InflightBudget budget = new InflightBudget(4, MAX_BYTES, 1, 0);
        for (int i = 0; i < 3; i++) {
            budget.acquire(0, false);
        }
        CompletableFuture<Void> fourth = acquireAsync(budget, 0, false);
        Thread.sleep(100);
        assertThat(fourth).isNotDone();
        budget.release(0);
        fourth.get(5, TimeUnit.SECONDS);
        assertThat(budget.requestsInFlight()).isEqualTo(3);
        assertThat(budget.waits()).isEqualTo(1);
    }

    @Test
    void bytesBeyondTheLimitWaitForARelease() throws Exception {
        InflightBudget budget = new InflightBudget(100, MAX_BYTES, 1, 0);
        budget.acquire(MAX_BYTES - 100, false);
        budget.acquire(100, false);
        CompletableFuture<Void> more = acquireAsync(budget, 1, false);
        Thread.sleep(100);
        assertThat(more).isNotDone();
        budget.release(100);
        more.get(5, TimeUnit.SECONDS);
        assertThat(budget.bytesInFlight()).isEqualTo(MAX_BYTES - 99);
    }

    @Test
    void reserveIsKeptForReserveRequests() throws Exception {
        long reserveBytes = 8L << 20;
        InflightBudget budget = new InflightBudget(4, MAX_BYTES, 2, reserveBytes);
        budget.acquire(0, false);
        budget.acquire(0, false);
        CompletableFuture<Void> ordinary = acquireAsync(budget, 0, false);
        Thread.sleep(50);
        assertThat(ordinary).isNotDone();
        budget.acquire(0, true); // the reserve is still there for writeback
        budget.acquire(0, true);
        assertThat(budget.requestsInFlight()).isEqualTo(4);
        CompletableFuture<Void> fifth = acquireAsync(budget, 0, true);
        Thread.sleep(50);
        assertThat(fifth).isNotDone();
        for (int i = 0; i < 4; i++) {
            budget.release(0);
        }
        ordinary.get(5, TimeUnit.SECONDS);
        fifth.get(5, TimeUnit.SECONDS);
        assertThat(budget.requestsInFlight()).isEqualTo(2);

        InflightBudget bytes = new InflightBudget(100, MAX_BYTES, 1, reserveBytes);
        bytes.acquire(MAX_BYTES - reserveBytes, false);
        CompletableFuture<Void> overOrdinary = acquireAsync(bytes, 1, false);
        Thread.sleep(50);
        assertThat(overOrdinary).isNotDone();
        bytes.acquire(reserveBytes, true);
        assertThat(bytes.bytesInFlight()).isEqualTo(MAX_BYTES);
        bytes.release(MAX_BYTES - reserveBytes);
        overOrdinary.get(5, TimeUnit.SECONDS);
    }

    @Test
    void limitsHoldUnderConcurrentUse() throws Exception {
        InflightBudget budget = new InflightBudget(8, MAX_BYTES, 2, 4L << 20);
        AtomicInteger requests = new AtomicInteger();
        AtomicLong bytes = new AtomicLong();
        AtomicInteger worstRequests = new AtomicInteger();
        AtomicLong worstBytes = new AtomicLong();
        try (ExecutorService threads = Executors.newFixedThreadPool(16)) {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < 16; t++) {
                done.add(threads.submit(() -> {
                    ThreadLocalRandom random = ThreadLocalRandom.current();
                    for (int i = 0; i < 500; i++) {
                        long size = random.nextLong(0, 8L << 20);
                        budget.acquire(size, random.nextInt(4) == 0);
                        worstRequests.accumulateAndGet(requests.incrementAndGet(), Math::max);
                        worstBytes.accumulateAndGet(bytes.addAndGet(size), Math::max);
                        requests.decrementAndGet();
                        bytes.addAndGet(-size);
                        budget.release(size);
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get(30, TimeUnit.SECONDS);
            }
        }
        assertThat(worstRequests.get()).isLessThanOrEqualTo(8);
        assertThat(worstBytes.get()).isLessThanOrEqualTo(MAX_BYTES);
        assertThat(budget.requestsInFlight()).isZero();
        assertThat(budget.bytesInFlight()).isZero();
    }

    @Test
    void releasingMoreThanTakenThrows() throws Exception {
        InflightBudget budget = InflightBudget.defaults();
        assertThatThrownBy(() -> budget.release(0)).isInstanceOf(IllegalStateException.class);
        InflightBudget other = InflightBudget.defaults();
        other.acquire(10, false);
        assertThatThrownBy(() -> other.release(11)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void badLimitsAreRefusedWithTheValue() {
        assertThatThrownBy(() -> new InflightBudget(2, MAX_BYTES, 2, 0)).hasMessageContaining("(2)");
        assertThatThrownBy(() -> new InflightBudget(4, 1000, 1, 0)).hasMessageContaining("(1000)");
        InflightBudget d = InflightBudget.defaults();
        assertThat(d.maxRequests()).isEqualTo(256);
        assertThat(d.maxBytes()).isEqualTo(64L << 20);
    }
}
