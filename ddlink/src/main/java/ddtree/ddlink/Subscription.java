package ddtree.ddlink;

import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.util.function.Consumer;

/** A connection receiving events; {@link #close} ends it. */
public final class Subscription implements AutoCloseable {
    private final SocketChannel channel;
    private final Thread reader;
    private volatile boolean closed;

    Subscription(SocketChannel channel, Consumer<Event> listener) {
        this.channel = channel;
        this.reader = Thread.ofPlatform().name("ddlink-subscription").daemon(true).start(() -> {
            try {
                for (;;) {
                    byte[] body = Frames.read(channel);
                    if (body == null) {
                        return;
                    }
                    var frame = Json.parseObject(body);
                    if (frame.has("event")) {
                        listener.accept(new Event(frame.path("event").asText(), frame.path("device").asText(),
                                frame.path("detail").asText("")));
                    }
                }
            } catch (IOException e) {
                // closed by us or the daemon went away: the subscription ends either way
            }
        });
    }

    /** Whether events can still arrive: false once closed or the daemon closed the connection. */
    public boolean isOpen() {
        return !closed && reader.isAlive();
    }

    @Override
    public void close() throws IOException {
        closed = true;
        channel.close();
        try {
            reader.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
