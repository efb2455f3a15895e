package ddtree.nbd.client;

import ddtree.nbd.NbdProtocol;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.SocketChannel;
import java.util.function.BiConsumer;

/**
 * One TCP connection to the server, from handshake to close: the socket, its request writer and
 * the reader thread that parses replies. A dropped connection is never reused; the device makes a
 * new one with the next generation number, which keeps replies of the old one from touching
 * requests sent on the new.
 */
final class Connection {
    private static final int INPUT_BUFFER = 256 << 10;
    private static final int OUTPUT_BUFFER = 256 << 10;

    final long generation;
    final ExportInfo info;
    final RequestWriter writer;
    private final SocketChannel channel;
    private final ReplyReader replies;
    private volatile Thread reader;

    private Connection(long generation, ExportInfo info, SocketChannel channel, ReplyReader.Requests requests,
            String where) {
        this.generation = generation;
        this.info = info;
        this.channel = channel;
        this.writer = new RequestWriter(channel, OUTPUT_BUFFER);
        this.replies = new ReplyReader(channel, INPUT_BUFFER, requests, generation, info.baseAllocationId(), where);
    }

    /** Connects and negotiates, giving up after {@code timeoutMillis} for each of the two steps. */
    static Connection open(String host, int port, String exportName, int timeoutMillis, long generation,
            ReplyReader.Requests requests, String where) throws IOException {
        SocketChannel ch = SocketChannel.open();
        try {
            ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
            ch.setOption(StandardSocketOptions.SO_KEEPALIVE, true);
            // Resolved at every attempt, so a server that moved to another address is found again.
            InetSocketAddress address = new InetSocketAddress(host, port);
            if (address.isUnresolved()) {
                throw new IOException("cannot resolve host '" + host + "'");
            }
            try {
                ch.socket().connect(address, timeoutMillis);
            } catch (IOException e) {
                throw new IOException("cannot connect to " + where + ": " + e.getMessage(), e);
            }
            // The handshake reads through the socket's streams, which honour a read timeout; the
            // transmission phase reads the channel, where timeouts are the device's own.
            ch.socket().setSoTimeout(timeoutMillis);
            ExportInfo info;
            try {
                info = new ClientHandshake(ch.socket().getInputStream(), ch.socket().getOutputStream(), exportName,
                        where).negotiate();
            } catch (java.net.SocketTimeoutException e) {
                throw new IOException(where + " did not finish the handshake within " + timeoutMillis + " ms", e);
            }
            ch.socket().setSoTimeout(0);
            return new Connection(generation, info, ch, requests, where);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** Starts the reader; {@code onLoss} hears once why it stopped. */
    void start(String threadName, BiConsumer<Connection, Throwable> onLoss) {
        reader = Thread.ofPlatform().name(threadName).daemon(true).start(() -> {
            try {
                replies.run();
            } catch (IOException | RuntimeException e) {
                onLoss.accept(this, e);
            }
        });
    }

    boolean isReader(Thread t) {
        return t == reader;
    }

    /** Sends NBD_CMD_DISC, best effort: the server may already be gone. */
    void disconnect() {
        writer.lock();
        try {
            writer.request(0, NbdProtocol.CMD_DISC, 0, 0, 0, null, 0);
            writer.flush();
            channel.shutdownOutput();
        } catch (IOException ignored) {
            // closing anyway
        } finally {
            writer.unlock();
        }
    }

    /** Closes the socket; the reader, blocked in read, ends with an exception. */
    void close() {
        try {
            channel.close();
        } catch (IOException ignored) {
            // nothing left to release
        }
    }

    /** Waits up to {@code millis} for the reader to end; true when it has (or never started). */
    boolean join(long millis) {
        Thread t = reader;
        if (t == null || t == Thread.currentThread()) {
            return true;
        }
        try {
            return t.join(java.time.Duration.ofMillis(millis));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
