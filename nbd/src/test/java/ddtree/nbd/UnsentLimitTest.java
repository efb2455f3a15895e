package ddtree.nbd;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.SocketChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The cap on a real loopback socket, read back with getsockopt; the build's test JVM gets the export it needs. */
class UnsentLimitTest {
    private static final MethodHandle GETSOCKOPT = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().find("getsockopt").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS));

    private LoopbackPair sockets;
    private SocketChannel client;
    private SocketChannel served;

    @BeforeEach
    void connect() throws IOException {
        sockets = new LoopbackPair();
        client = sockets.client;
        served = sockets.served;
    }

    @AfterEach
    void close() throws IOException {
        sockets.close();
    }

    /** TCP_NOTSENT_LOWAT of the served socket as the kernel has it (0: the system default). */
    private int notSentLowWater() throws Throwable {
        int fd = (int) Class.forName("sun.nio.ch.SelChImpl").getMethod("getFDVal").invoke(served);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(ValueLayout.JAVA_INT);
            MemorySegment length = arena.allocate(ValueLayout.JAVA_INT);
            length.set(ValueLayout.JAVA_INT, 0, 4);
            int r = (int) GETSOCKOPT.invokeExact(fd, 6, 25, value, length);
            assertThat(r).isZero();
            return value.get(ValueLayout.JAVA_INT, 0);
        }
    }

    @Test
    void crowdedCapsTheSocketAndSpareCpuLiftsIt() throws Throwable {
        UnsentLimit limit = UnsentLimit.of(served);
        assertThat(limit.available()).isTrue();
        assertThat(notSentLowWater()).isZero();

        limit.crowded(true);
        assertThat(limit.capped()).isTrue();
        assertThat(notSentLowWater()).isEqualTo(UnsentLimit.CROWDED_BYTES);

        limit.crowded(true); // no change, no call
        assertThat(notSentLowWater()).isEqualTo(UnsentLimit.CROWDED_BYTES);

        limit.crowded(false);
        assertThat(limit.capped()).isFalse();
        assertThat(notSentLowWater()).isZero();

        // The capped socket still carries a reply larger than the cap, whole.
        limit.crowded(true);
        ByteBuffer reply = ByteBuffer.allocateDirect(1 << 20);
        for (int i = 0; i < reply.capacity(); i++) {
            reply.put(i, (byte) (i * 31));
        }
        Thread writer = Thread.ofPlatform().start(() -> {
            try {
                while (reply.hasRemaining()) {
                    served.write(reply);
                }
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        });
        ByteBuffer got = ByteBuffer.allocate(1 << 20);
        while (got.hasRemaining() && client.read(got) >= 0) {
            // read it all
        }
        writer.join();
        for (int i = 0; i < got.capacity(); i++) {
            assertThat(got.get(i)).as("byte " + i).isEqualTo((byte) (i * 31));
        }
    }

    @Test
    void aClosedSocketIsLeftAlone() throws Throwable {
        UnsentLimit limit = UnsentLimit.of(served);
        served.close();
        limit.crowded(true);
        assertThat(limit.capped()).isFalse();
    }

    @Test
    void aChannelThatIsNoSocketHasNothingToCap() {
        ByteChannel memory = new ByteChannel() {
            @Override
            public int read(ByteBuffer dst) {
                return -1;
            }

            @Override
            public int write(ByteBuffer src) {
                int n = src.remaining();
                src.position(src.limit());
                return n;
            }

            @Override
            public boolean isOpen() {
                return true;
            }

            @Override
            public void close() {}
        };
        UnsentLimit limit = UnsentLimit.of(memory);
        assertThat(limit.available()).isFalse();
        limit.crowded(true);
        assertThat(limit.capped()).isFalse();
    }
}
