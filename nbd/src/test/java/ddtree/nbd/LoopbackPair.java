package ddtree.nbd;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;

/** Two ends of one real TCP connection on loopback, for tests of what the server does to its socket. */
final class LoopbackPair implements AutoCloseable {
    final SocketChannel client;
    /** The end a server accepted. */
    final SocketChannel served;
    private final ServerSocketChannel listener;

    LoopbackPair() throws IOException {
        listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        client = SocketChannel.open(listener.getLocalAddress());
        served = listener.accept();
    }

    @Override
    public void close() throws IOException {
        served.close();
        client.close();
        listener.close();
    }
}
