package ddtree.nbd;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.reflect.Method;
import java.nio.channels.ByteChannel;
import java.nio.channels.SocketChannel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Caps how much reply data may wait unsent in a connection's socket ({@code TCP_NOTSENT_LOWAT})
 * while the server's busy connections are as many as its CPUs, and lifts the cap otherwise.
 *
 * <p>Linux sends what waits in a socket as the client's acknowledgements arrive, on the CPU that
 * processes them: with a deep queue, much of the TCP work of sending a reply runs on the client's
 * CPU rather than the writer's. When the connections alone keep every CPU busy, that work only
 * competes with the clients: nbdcopy's four connections on two CPUs copied 15-20% faster with
 * the cap. With a CPU to spare (one connection reading 1 MiB blocks), the deep queue is what lets
 * the connection's two threads and the client share the work, and fio measured 8-15% less with
 * the cap, so it is lifted. Only data not yet sent counts, so the cap never limits what is in
 * flight on a long link.
 *
 * <p>The JDK offers no such option, so it is set with {@code setsockopt} on the channel's file
 * descriptor, which the JDK shows only to code given
 * {@code --add-exports java.base/sun.nio.ch=ALL-UNNAMED} (the launchers give it). Without it, or
 * for a channel that is no socket, nothing is capped and everything else works the same.
 */
final class UnsentLimit {
    /** Unsent bytes a crowded connection's socket may hold: two of loopback's 64 KiB segments. */
    static final int CROWDED_BYTES = 128 << 10;
    /** Leaves nothing capped. */
    static final UnsentLimit NONE = new UnsentLimit(null, -1);

    private static final Logger LOG = LoggerFactory.getLogger(UnsentLimit.class);
    // <netinet/in.h>, <netinet/tcp.h> on Linux.
    private static final int IPPROTO_TCP = 6;
    private static final int TCP_NOTSENT_LOWAT = 25;
    /** Hands the choice back to the system's default (net.ipv4.tcp_notsent_lowat). */
    private static final int SYSTEM_DEFAULT = 0;

    private static final MethodHandle SETSOCKOPT = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().find("setsockopt").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    /** {@code sun.nio.ch.SelChImpl.getFDVal()}, or null where the package is not exported to us. */
    private static final Method FD_VAL = fdValMethod();

    private final SocketChannel channel;
    private final int fd;
    /** The option's value, made once so that changing it allocates nothing. */
    private final MemorySegment value;
    private boolean capped;

    private UnsentLimit(SocketChannel channel, int fd) {
        this.channel = channel;
        this.fd = fd;
        this.value = fd < 0 ? null : Arena.ofAuto().allocate(ValueLayout.JAVA_INT);
    }

    /** For {@code channel}; {@link #NONE} when it is no socket or its descriptor cannot be had. */
    static UnsentLimit of(ByteChannel channel) {
        if (!(channel instanceof SocketChannel sc) || FD_VAL == null) {
            return NONE;
        }
        try {
            return new UnsentLimit(sc, (int) FD_VAL.invoke(sc));
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.debug("no file descriptor for {}: {}", sc, e.toString());
            return NONE;
        }
    }

    /** True when this can change the socket's option. */
    boolean available() {
        return fd >= 0;
    }

    /** Whether the cap is set now. */
    synchronized boolean capped() {
        return capped;
    }

    /**
     * Caps the socket's unsent data while {@code crowded}, lifts the cap otherwise; a system call
     * only when that changes. A failure leaves the socket as it was: this is a tuning, nothing
     * depends on it.
     */
    synchronized void crowded(boolean crowded) {
        if (fd < 0 || crowded == capped || !channel.isOpen()) {
            return; // once closed, the number may already name another file
        }
        value.set(ValueLayout.JAVA_INT, 0, crowded ? CROWDED_BYTES : SYSTEM_DEFAULT);
        try {
            int r = (int) SETSOCKOPT.invokeExact(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, value, 4);
            if (r == 0) {
                capped = crowded;
            }
        } catch (Throwable t) {
            throw new IllegalStateException("setsockopt(TCP_NOTSENT_LOWAT) failed", t);
        }
    }

    private static Method fdValMethod() {
        try {
            Method m = Class.forName("sun.nio.ch.SelChImpl").getMethod("getFDVal");
            if (!m.getDeclaringClass().getModule().isExported("sun.nio.ch", UnsentLimit.class.getModule())) {
                LOG.info("socket unsent-data cap off: run with --add-exports java.base/sun.nio.ch=ALL-UNNAMED"
                        + " to let crowded connections keep their sockets' queues short");
                return null;
            }
            return m;
        } catch (ReflectiveOperationException e) {
            return null;
        }
    }
}
