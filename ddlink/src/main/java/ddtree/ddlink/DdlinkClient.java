package ddtree.ddlink;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * The client side of ddlink, for every CLI of the project: one typed method per verb.
 *
 * <p>A method returns the daemon's answer, throws {@link ControlException} when the daemon
 * refused the request (its message says why), and {@link IOException} when the daemon cannot be
 * reached or broke the protocol. One request is in flight at a time per client; the methods are
 * synchronized so threads may share a client.
 */
public final class DdlinkClient implements AutoCloseable {
    private static final TypeReference<List<DeviceInfo>> DEVICES = new TypeReference<>() {};
    private static final TypeReference<List<DeviceLines>> LINES = new TypeReference<>() {};
    private static final TypeReference<List<TargetInfo>> TARGETS = new TypeReference<>() {};

    private final SocketChannel channel;
    private final String daemon;
    private long nextId = 1;

    private DdlinkClient(SocketChannel channel, String daemon) {
        this.channel = channel;
        this.daemon = daemon;
    }

    /**
     * Connects and exchanges hellos.
     *
     * @param clientName who is calling, for the daemon's log (e.g. {@code ddsetup})
     * @throws IOException if nothing listens at {@code socket}, or the daemon refuses the hello
     */
    public static DdlinkClient connect(Path socket, String clientName) throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.connect(UnixDomainSocketAddress.of(socket));
            ObjectNode hello = Json.object();
            hello.put("hello", Protocol.MAGIC).put("protocol", Protocol.VERSION).put("client", clientName);
            Frames.write(ch, Json.bytes(hello));
            byte[] body = Frames.read(ch);
            if (body == null) {
                throw new IOException("the daemon at " + socket + " closed the connection during the hello");
            }
            ObjectNode reply = Json.parseObject(body);
            if (reply.has("error")) {
                throw new IOException("the daemon at " + socket + " refused the connection: " + reply.get("error").asText());
            }
            if (!Protocol.MAGIC.equals(reply.path("hello").asText()) || reply.path("protocol").asInt() != Protocol.VERSION) {
                throw new IOException("the daemon at " + socket + " answered the hello with " + reply);
            }
            return new DdlinkClient(ch, reply.path("daemon").asText(""));
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** The daemon's version as it gave it in its hello. */
    public String daemonVersion() {
        return daemon;
    }

    public VersionInfo version() throws IOException, ControlException {
        return Json.convert(call(request("version")), VersionInfo.class);
    }

    public List<TargetInfo> targets() throws IOException, ControlException {
        return Json.MAPPER.convertValue(call(request("targets")), TARGETS);
    }

    public DeviceInfo create(String name, String table) throws IOException, ControlException {
        return device(call(request("create").put("name", name).put("table", table)));
    }

    public void remove(String name, boolean force) throws IOException, ControlException {
        call(request("remove").put("name", name).put("force", force));
    }

    public List<DeviceInfo> list() throws IOException, ControlException {
        return devices(call(request("list")));
    }

    public List<DeviceLines> table(Optional<String> name) throws IOException, ControlException {
        return lines(call(named("table", name)));
    }

    public List<DeviceLines> status(Optional<String> name) throws IOException, ControlException {
        return lines(call(named("status", name)));
    }

    public List<DeviceInfo> info(Optional<String> name) throws IOException, ControlException {
        return devices(call(named("info", name)));
    }

    public List<DeviceInfo> deps(Optional<String> name) throws IOException, ControlException {
        return devices(call(named("deps", name)));
    }

    public DeviceInfo suspend(String name) throws IOException, ControlException {
        return device(call(request("suspend").put("name", name)));
    }

    public DeviceInfo resume(String name) throws IOException, ControlException {
        return device(call(request("resume").put("name", name)));
    }

    public DeviceInfo reload(String name, String table) throws IOException, ControlException {
        return device(call(request("reload").put("name", name).put("table", table)));
    }

    public DeviceInfo clear(String name) throws IOException, ControlException {
        return device(call(request("clear").put("name", name)));
    }

    public DeviceInfo rename(String name, String newName) throws IOException, ControlException {
        return device(call(request("rename").put("name", name).put("newName", newName)));
    }

    public String message(String name, long sector, String text) throws IOException, ControlException {
        return call(request("message").put("name", name).put("sector", sector).put("text", text)).path("reply").asText("");
    }

    public ExportInfo export(String name, Optional<String> exportName, boolean readOnly) throws IOException, ControlException {
        ObjectNode r = request("export").put("name", name).put("readOnly", readOnly);
        exportName.ifPresent(e -> r.put("exportName", e));
        return Json.convert(call(r), ExportInfo.class);
    }

    public void unexport(String name) throws IOException, ControlException {
        call(request("unexport").put("name", name));
    }

    /**
     * Opens a second connection that receives every event from now on, passing each to
     * {@code listener} on its own thread, until the subscription is closed or the daemon goes.
     */
    public static Subscription subscribe(Path socket, String clientName, Consumer<Event> listener) throws IOException {
        DdlinkClient c = connect(socket, clientName);
        try {
            c.call(c.request("subscribe"));
        } catch (ControlException e) {
            c.close();
            throw new IOException("the daemon refused to subscribe: " + e.getMessage(), e);
        }
        return new Subscription(c.channel, listener);
    }

    /**
     * Receives snapshot {@code to}'s delta from {@code from} (empty: a full stream) into {@code out}.
     *
     * @param total told the stream's expected size when the daemon announces it
     * @return the daemon's summary
     * @throws ControlException when the daemon refuses or fails part way; what reached {@code out}
     *     is then incomplete
     */
    public synchronized JsonNode deltaSend(String volume, Optional<String> from, String to, boolean compress,
            java.io.OutputStream out, java.util.function.LongConsumer total) throws IOException, ControlException {
        long id = nextId++;
        ObjectNode frame = Json.object();
        frame.put("id", id).put("verb", "delta-send").put("volume", volume).put("to", to).put("compress", compress);
        from.ifPresent(f -> frame.put("from", f));
        Frames.write(channel, Json.bytes(frame));
        DataFrames.Input in = new DataFrames.Input(channel, total);
        in.transferTo(out);
        return answer(in.last(), "delta-send");
    }

    /**
     * Sends the delta stream read from {@code in} to be applied to {@code volume}.
     *
     * @param sent told the bytes sent so far, after each data frame
     */
    public synchronized JsonNode deltaReceive(String volume, boolean force, java.io.InputStream in,
            java.util.function.LongConsumer sent) throws IOException, ControlException {
        long id = nextId++;
        ObjectNode frame = Json.object();
        frame.put("id", id).put("verb", "delta-receive").put("volume", volume).put("force", force);
        Frames.write(channel, Json.bytes(frame));
        com.fasterxml.jackson.databind.node.LongNode idNode = com.fasterxml.jackson.databind.node.LongNode.valueOf(id);
        try (DataFrames.Output out = new DataFrames.Output(f -> Frames.write(channel, Json.bytes(f)), idNode)) {
            byte[] buf = new byte[DataFrames.CHUNK];
            int n;
            while ((n = in.readNBytes(buf, 0, buf.length)) > 0) {
                out.write(buf, 0, n);
                out.flush();
                sent.accept(out.sent());
            }
        }
        ObjectNode end = Json.object();
        end.put("id", id).put("end", true);
        Frames.write(channel, Json.bytes(end));
        byte[] body = Frames.read(channel);
        if (body == null) {
            throw new IOException("the daemon closed the connection before answering delta-receive");
        }
        return answer(Json.parseObject(body), "delta-receive");
    }

    private static JsonNode answer(ObjectNode reply, String verb) throws IOException, ControlException {
        if (reply == null) {
            throw new IOException("the daemon ended " + verb + " without an answer");
        }
        if (!reply.path("ok").asBoolean(false)) {
            throw new ControlException(reply.path("error").asText("refused without a reason"));
        }
        return reply.path("result");
    }

    /** Sends a raw request frame (fields beside {@code id}) and returns the reply's result: for tests of the protocol itself. */
    public JsonNode raw(ObjectNode fields) throws IOException, ControlException {
        return call(fields);
    }

    private ObjectNode request(String verb) {
        ObjectNode r = Json.object();
        r.put("verb", verb);
        return r;
    }

    private ObjectNode named(String verb, Optional<String> name) {
        ObjectNode r = request(verb);
        name.ifPresent(n -> r.put("name", n));
        return r;
    }

    private synchronized JsonNode call(ObjectNode request) throws IOException, ControlException {
        long id = nextId++;
        ObjectNode frame = Json.object();
        frame.put("id", id);
        frame.setAll(request);
        Frames.write(channel, Json.bytes(frame));
        for (;;) {
            byte[] body = Frames.read(channel);
            if (body == null) {
                throw new IOException("the daemon closed the connection before answering " + request.path("verb").asText());
            }
            ObjectNode reply = Json.parseObject(body);
            if (reply.has("event")) {
                continue; // an event on a subscribed connection; requests are answered in order
            }
            JsonNode rid = reply.get("id");
            if (rid != null && !rid.isNull() && rid.asLong() != id) {
                throw new IOException("the daemon answered request " + rid + " while request " + id + " was waiting");
            }
            if (!reply.path("ok").asBoolean(false)) {
                throw new ControlException(reply.path("error").asText("refused without a reason"));
            }
            return reply.path("result");
        }
    }

    private static DeviceInfo device(JsonNode n) {
        return Json.convert(n, DeviceInfo.class);
    }

    private static List<DeviceInfo> devices(JsonNode n) {
        return Json.MAPPER.convertValue(n, DEVICES);
    }

    private static List<DeviceLines> lines(JsonNode n) {
        return Json.MAPPER.convertValue(n, LINES);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
