package ddtree.ddlink;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The daemon's end of ddlink: listens on a Unix domain socket (mode 0600), checks each peer's
 * user with SO_PEERCRED, answers the hello, then serves requests one after another on each
 * connection, each connection on its own virtual thread. {@link #publish} sends an event to
 * every subscribed connection.
 */
public final class ControlServer implements AutoCloseable, Consumer<Event> {
    private static final Logger LOG = LoggerFactory.getLogger(ControlServer.class);

    private final Path path;
    private final Dispatcher dispatcher;
    private final ControlHandler handler;
    private final String daemonVersion;
    private final Set<Connection> connections = ConcurrentHashMap.newKeySet();
    private ServerSocketChannel listener;
    private PeerPolicy policy;
    private Thread acceptor;
    private volatile boolean closed;

    public ControlServer(Path path, ControlHandler handler, String daemonVersion) {
        this.path = path;
        this.dispatcher = new Dispatcher(handler);
        this.handler = handler;
        this.daemonVersion = daemonVersion;
    }

    public Path path() {
        return path;
    }

    /**
     * Binds the socket and starts accepting. A socket file left by a daemon that died is
     * replaced; any other file at the path is refused rather than deleted.
     */
    public synchronized void start() throws IOException {
        if (Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            if (!isSocket(path)) {
                throw new IOException("control socket " + path + " exists and is not a socket (remove it or choose another --control)");
            }
            Files.delete(path); // the state directory lock says no live daemon owns it
        }
        Path parent = path.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.bind(UnixDomainSocketAddress.of(path));
            Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-------"));
            policy = PeerPolicy.forOwnerOf(path);
        } catch (IOException | RuntimeException e) {
            ch.close();
            Files.deleteIfExists(path);
            throw new IOException("cannot listen on control socket " + path + ": " + e.getMessage(), e);
        }
        listener = ch;
        acceptor = Thread.ofPlatform().name("ddlink-accept").daemon(true).start(this::acceptLoop);
    }

    private static boolean isSocket(Path p) throws IOException {
        Object mode = Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        return mode instanceof Integer m && (m & 0170000) == 0140000;
    }

    private void acceptLoop() {
        while (!closed) {
            SocketChannel client;
            try {
                client = listener.accept();
            } catch (IOException e) {
                if (!closed) {
                    LOG.warn("control socket accept failed: {}", e.toString());
                }
                return;
            }
            Connection c = new Connection(client);
            connections.add(c);
            Thread.ofVirtual().name("ddlink-conn").start(c::run);
        }
    }

    /** Sends {@code event} to every subscriber; never blocks on a slow one. */
    public void publish(Event event) {
        byte[] frame = Json.bytes(eventFrame(event));
        for (Connection c : connections) {
            c.offer(frame);
        }
    }

    @Override
    public void accept(Event event) {
        publish(event);
    }

    static ObjectNode eventFrame(Event e) {
        ObjectNode n = Json.object();
        n.put("event", e.event()).put("device", e.device()).put("detail", e.detail());
        return n;
    }

    /** Connections open now (tests check that none leak). */
    public int connectionCount() {
        return connections.size();
    }

    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        try {
            if (listener != null) {
                listener.close();
            }
        } catch (IOException e) {
            LOG.debug("closing control socket", e);
        }
        for (Connection c : connections) {
            c.close();
        }
        if (acceptor != null) {
            try {
                acceptor.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            LOG.debug("removing control socket", e);
        }
    }

    /** One client: hello, then requests; after {@code subscribe}, also events. */
    private final class Connection {
        /** A subscriber that falls this far behind is dropped rather than let the daemon's memory grow. */
        private static final int MAX_QUEUED_EVENTS = 4096;

        private final SocketChannel channel;
        private final Object writeLock = new Object();
        private final java.util.concurrent.LinkedBlockingQueue<byte[]> events =
                new java.util.concurrent.LinkedBlockingQueue<>(MAX_QUEUED_EVENTS);
        private volatile boolean subscribed;
        private volatile Thread eventWriter;

        Connection(SocketChannel channel) {
            this.channel = channel;
        }

        void run() {
            try {
                String refusal = checkPeer();
                if (refusal != null) {
                    LOG.warn("control connection refused: {}", refusal);
                    send(error(null, refusal));
                    return;
                }
                if (!hello()) {
                    return;
                }
                for (;;) {
                    byte[] body = Frames.read(channel);
                    if (body == null) {
                        return;
                    }
                    send(handle(Json.parseObject(body)));
                }
            } catch (Frames.FrameException e) {
                try {
                    send(error(null, e.getMessage()));
                } catch (IOException ignored) {
                    // the peer broke the framing; it may not be reading either
                }
            } catch (IOException e) {
                if (!closed) {
                    LOG.debug("control connection ended: {}", e.toString());
                }
            } finally {
                close();
            }
        }

        private String checkPeer() throws IOException {
            UserPrincipal user;
            try {
                UnixDomainPrincipal p = channel.getOption(ExtendedSocketOptions.SO_PEERCRED);
                user = p.user();
            } catch (UnsupportedOperationException e) {
                user = null;
            }
            return policy.refusal(user);
        }

        /** Reads the client's hello and answers it; false when the versions do not meet. */
        private boolean hello() throws IOException {
            byte[] body = Frames.read(channel);
            if (body == null) {
                return false;
            }
            ObjectNode hello = Json.parseObject(body);
            JsonNode magic = hello.get("hello");
            JsonNode version = hello.get("protocol");
            if (magic == null || !Protocol.MAGIC.equals(magic.asText())) {
                send(error(null, "hello: expected the first frame to be {\"hello\":\"ddlink\",\"protocol\":"
                        + Protocol.VERSION + "}, got " + abbreviate(hello.toString())));
                return false;
            }
            if (version == null || !version.isIntegralNumber() || version.asInt() != Protocol.VERSION) {
                send(error(null, "hello: protocol " + version + " is not supported (this daemon speaks "
                        + Protocol.VERSION + ")"));
                return false;
            }
            ObjectNode reply = Json.object();
            reply.put("hello", Protocol.MAGIC).put("protocol", Protocol.VERSION).put("daemon", daemonVersion);
            send(reply);
            return true;
        }

        private ObjectNode handle(ObjectNode frame) {
            JsonNode id = Request.idOf(frame);
            try {
                Request r = Request.of(frame);
                if (r.verb().equals("subscribe")) {
                    r.allow();
                    startEvents();
                    return ok(id, Json.object());
                }
                if (r.verb().equals("delta-send")) {
                    r.allow("volume", "from", "to", "compress");
                    DataFrames.Output out = new DataFrames.Output(this::send, id);
                    Object result = handler.deltaSend(r.string("volume"), r.optionalString("from"), r.string("to"),
                            r.bool("compress"), out);
                    out.flush();
                    return ok(id, Json.tree(result));
                }
                if (r.verb().equals("delta-receive")) {
                    r.allow("volume", "force");
                    DataFrames.Input in = new DataFrames.Input(channel, n -> { });
                    try {
                        return ok(id, Json.tree(handler.deltaReceive(r.string("volume"), r.bool("force"), in)));
                    } finally {
                        in.drain(); // the client sends the whole stream before it reads the answer
                    }
                }
                return ok(id, dispatcher.dispatch(r));
            } catch (ControlException e) {
                return error(id, e.getMessage());
            } catch (IOException e) {
                return error(id, e.getMessage() != null ? e.getMessage() : e.toString());
            } catch (RuntimeException e) {
                // A bug in the handler must not take the daemon down; the caller still gets an answer.
                LOG.error("control request failed: {}", frame, e);
                return error(id, "internal error: " + e);
            }
        }

        private void startEvents() {
            if (subscribed) {
                return;
            }
            subscribed = true;
            eventWriter = Thread.ofVirtual().name("ddlink-events").start(() -> {
                try {
                    for (;;) {
                        send(events.take());
                    }
                } catch (InterruptedException | IOException e) {
                    close();
                }
            });
        }

        void offer(byte[] frame) {
            if (subscribed && !events.offer(frame)) {
                LOG.warn("dropping a control subscriber {} events behind", MAX_QUEUED_EVENTS);
                close();
            }
        }

        private void send(ObjectNode frame) throws IOException {
            send(Json.bytes(frame));
        }

        private void send(byte[] body) throws IOException {
            synchronized (writeLock) {
                Frames.write(channel, body);
            }
        }

        void close() {
            connections.remove(this);
            try {
                channel.close();
            } catch (IOException ignored) {
                // already gone
            }
            Thread w = eventWriter;
            if (w != null) {
                w.interrupt();
            }
        }
    }

    static ObjectNode ok(JsonNode id, JsonNode result) {
        ObjectNode n = Json.object();
        n.set("id", id);
        n.put("ok", true);
        n.set("result", result);
        return n;
    }

    static ObjectNode error(JsonNode id, String message) {
        ObjectNode n = Json.object();
        n.set("id", id);
        n.put("ok", false);
        n.put("error", message);
        return n;
    }

    private static String abbreviate(String s) {
        return s.length() <= 200 ? s : s.substring(0, 200) + "...";
    }
}
