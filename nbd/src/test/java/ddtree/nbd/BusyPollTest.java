package ddtree.nbd;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Polling a real loopback socket: it ends at the first byte, at its limit, or at once when it is not its turn. */
class BusyPollTest {
    private LoopbackPair sockets;
    private SocketChannel client;
    private InputStream servedInput;

    @BeforeEach
    void connect() throws IOException {
        sockets = new LoopbackPair();
        client = sockets.client;
        servedInput = sockets.served.socket().getInputStream();
    }

    @AfterEach
    void close() throws IOException {
        sockets.close();
    }

    @Test
    void bytesAlreadyThereEndThePollAtOnce() throws IOException {
        client.write(ByteBuffer.wrap(new byte[] {1}));
        waitUntilReadable();
        BusyPoll poll = new BusyPoll(5_000_000, 1);
        long took = timed(() -> poll.await(servedInput));
        assertThat(took).isLessThan(TimeUnit.SECONDS.toNanos(2));
    }

    @Test
    void aQuietSocketIsPolledForTheWholeLimit() {
        BusyPoll poll = new BusyPoll(30_000, 1);
        long took = timed(() -> poll.await(servedInput));
        assertThat(took).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(30));
    }

    @Test
    void bytesArrivingDuringThePollEndIt() throws Exception {
        BusyPoll poll = new BusyPoll(10_000_000, 1);
        Thread sender = Thread.ofPlatform().start(() -> {
            try {
                Thread.sleep(50);
                client.write(ByteBuffer.wrap(new byte[] {1}));
            } catch (IOException | InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        long took = timed(() -> poll.await(servedInput));
        sender.join();
        assertThat(took).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(40))
                .isLessThan(TimeUnit.SECONDS.toNanos(5));
    }

    @Test
    void onlyAsManyReadersAsAllowedPollAtOnce() throws Exception {
        BusyPoll poll = new BusyPoll(10_000_000, 1);
        CountDownLatch started = new CountDownLatch(1);
        Thread first = Thread.ofPlatform().start(() -> {
            started.countDown();
            poll.await(servedInput);
        });
        started.await();
        Thread.sleep(100); // the first reader is polling by now (it polls for 10 s)
        long took = timed(() -> poll.await(servedInput));
        assertThat(took).as("the second reader may not poll").isLessThan(TimeUnit.SECONDS.toNanos(2));
        client.write(ByteBuffer.wrap(new byte[] {1})); // ends the first poll
        first.join(TimeUnit.SECONDS.toMillis(5));
        assertThat(first.isAlive()).isFalse();
    }

    @Test
    void zeroMicrosecondsIsOff() {
        assertThat(BusyPoll.of(0)).isSameAs(BusyPoll.OFF);
        long took = timed(() -> BusyPoll.OFF.await(servedInput));
        assertThat(took).isLessThan(TimeUnit.SECONDS.toNanos(1));
    }

    private void waitUntilReadable() throws IOException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (servedInput.available() == 0 && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        assertThat(servedInput.available()).isPositive();
    }

    private static long timed(Runnable r) {
        long start = System.nanoTime();
        r.run();
        return System.nanoTime() - start;
    }
}
