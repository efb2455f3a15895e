package ddtree.ddlink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The protocol end to end over a real Unix socket, with a handler that records what it was asked. */
@Timeout(60)
class ControlServerTest {
    @TempDir
    Path dir;

    Path socket;
    ControlServer server;
    final FakeHandler handler = new FakeHandler();

    @BeforeEach
    void start() throws IOException {
        socket = dir.resolve("control.sock");
        server = new ControlServer(socket, handler, "9.9.9");
        server.start();
    }

    @AfterEach
    void stop() {
        server.close();
    }

    @Test
    void theSocketIsPrivateToItsOwner() throws IOException {
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(socket))).isEqualTo("rw-------");
    }

    @Test
    void everyVerbReachesTheHandlerAndItsResultComesBack() throws Exception {
        try (DdlinkClient c = DdlinkClient.connect(socket, "test")) {
            assertThat(c.daemonVersion()).isEqualTo("9.9.9");
            assertThat(c.version()).isEqualTo(new VersionInfo("9.9.9", Protocol.VERSION));
            assertThat(c.targets()).containsExactly(new TargetInfo("zero", "1.0.0"));
            assertThat(c.create("a", "0 8 zero").name()).isEqualTo("a");
            assertThat(handler.calls.poll()).isEqualTo("create a 0 8 zero");
            c.remove("a", true);
            assertThat(handler.calls.poll()).isEqualTo("remove a true");
            assertThat(c.list()).extracting(DeviceInfo::name).containsExactly("a");
            assertThat(c.table(Optional.of("a"))).containsExactly(new DeviceLines("a", List.of("0 8 zero")));
            assertThat(c.status(Optional.empty())).hasSize(1);
            assertThat(c.info(Optional.of("a")).getFirst().deps()).containsExactly("/x");
            assertThat(c.deps(Optional.empty())).hasSize(1);
            assertThat(c.suspend("a").state()).isEqualTo(DeviceInfo.SUSPENDED);
            assertThat(c.resume("a").state()).isEqualTo(DeviceInfo.ACTIVE);
            c.reload("a", "0 16 zero");
            assertThat(handler.calls).contains("reload a 0 16 zero");
            c.clear("a");
            assertThat(c.rename("a", "b").name()).isEqualTo("b");
            assertThat(c.message("a", 8, "down now")).isEqualTo("ok 8 down now");
            assertThat(c.export("a", Optional.of("e"), true)).isEqualTo(new ExportInfo("a", "e", true));
            assertThat(c.export("a", Optional.empty(), false)).isEqualTo(new ExportInfo("a", "a", false));
            c.unexport("a");
            assertThat(handler.calls).contains("unexport a");
        }
        assertThat(awaitZero()).isTrue();
    }

    @Test
    void refusalsCarryTheHandlersText() throws Exception {
        try (DdlinkClient c = DdlinkClient.connect(socket, "test")) {
            assertThatThrownBy(() -> c.create("bad", "0 8 zero"))
                    .isInstanceOf(ControlException.class).hasMessage("table line 1: bad device");
            // The connection goes on after a refusal.
            assertThat(c.list()).hasSize(1);
        }
    }

    @Test
    void malformedRequestsNameTheField() throws Exception {
        try (DdlinkClient c = DdlinkClient.connect(socket, "test")) {
            assertThatThrownBy(() -> c.raw(Json.object().put("verb", "frob")))
                    .hasMessageStartingWith("unknown verb 'frob' (verbs: version, targets, create");
            assertThatThrownBy(() -> c.raw(Json.object().put("verb", "create").put("name", "a")))
                    .hasMessage("create: missing field 'table'");
            assertThatThrownBy(() -> c.raw(Json.object().put("verb", "create").put("name", 5).put("table", "x")))
                    .hasMessage("create: field 'name' must be a string, not 5");
            assertThatThrownBy(() -> c.raw(Json.object().put("verb", "remove").put("name", "a").put("force", "yes")))
                    .hasMessage("remove: field 'force' must be true or false, not \"yes\"");
            assertThatThrownBy(() -> c.raw(Json.object().put("verb", "message").put("name", "a").put("sector", "x").put("text", "t")))
                    .hasMessage("message: field 'sector' must be a whole number, not \"x\"");
            assertThatThrownBy(() -> c.raw(Json.object().put("verb", "list").put("nmae", "a")))
                    .hasMessage("list: unknown field 'nmae' (list takes no fields)");
            assertThatThrownBy(() -> c.raw(Json.object().put("verb", "export").put("name", "a").put("as", "b")))
                    .hasMessage("export: unknown field 'as' (export takes name, exportName, readOnly)");
            assertThatThrownBy(() -> c.raw(Json.object()))
                    .hasMessage("request: missing field 'verb'");
        }
    }

    @Test
    void aWrongHelloIsRefused() throws Exception {
        try (SocketChannel ch = raw()) {
            Frames.write(ch, "{\"hello\":\"ddlink\",\"protocol\":99}".getBytes(StandardCharsets.UTF_8));
            String reply = new String(Frames.read(ch), StandardCharsets.UTF_8);
            assertThat(reply).contains("\"ok\":false").contains("hello: protocol 99 is not supported (this daemon speaks 1)");
            assertThat(Frames.read(ch)).as("closed after the refusal").isNull();
        }
    }

    @Test
    void anOversizedFrameIsRefusedAndTheConnectionClosed() throws Exception {
        try (SocketChannel ch = raw()) {
            ch.write(ByteBuffer.allocate(4).putInt(Frames.MAX_FRAME + 1).flip());
            String reply = new String(Frames.read(ch), StandardCharsets.UTF_8);
            assertThat(reply).contains("frame length 1048577 is larger than the 1048576-byte limit");
            assertThat(Frames.read(ch)).isNull();
        }
        try (SocketChannel ch = raw()) {
            Frames.write(ch, "[1,2]".getBytes(StandardCharsets.UTF_8));
            assertThat(new String(Frames.read(ch), StandardCharsets.UTF_8)).contains("frame is JSON but not an object: array");
        }
        // The server is still there.
        try (DdlinkClient c = DdlinkClient.connect(socket, "test")) {
            assertThat(c.list()).hasSize(1);
        }
    }

    @Test
    void subscribersGetEventsInOrder() throws Exception {
        LinkedBlockingQueue<Event> got = new LinkedBlockingQueue<>();
        try (Subscription s = DdlinkClient.subscribe(socket, "test", got::add)) {
            server.publish(new Event("created", "a", ""));
            server.publish(new Event("target", "a", "flakey: down"));
            assertThat(got.poll(10, TimeUnit.SECONDS)).isEqualTo(new Event("created", "a", ""));
            assertThat(got.poll(10, TimeUnit.SECONDS)).isEqualTo(new Event("target", "a", "flakey: down"));
            assertThat(s.isOpen()).isTrue();
        }
    }

    @Test
    void nothingListensAfterClose() {
        server.close();
        assertThat(socket).doesNotExist();
        assertThatThrownBy(() -> DdlinkClient.connect(socket, "test")).isInstanceOf(IOException.class);
    }

    @Test
    void aFileInTheWayIsNotDeleted() throws IOException {
        Path other = dir.resolve("notasocket");
        Files.writeString(other, "keep");
        ControlServer s = new ControlServer(other, handler, "x");
        assertThatThrownBy(s::start).hasMessageContaining("exists and is not a socket");
        assertThat(Files.readString(other)).isEqualTo("keep");
    }

    @Test
    void aStaleSocketIsReplaced() throws Exception {
        server.close();
        try (var ch = java.nio.channels.ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.bind(UnixDomainSocketAddress.of(socket)); // left behind as if a daemon had died
        }
        server = new ControlServer(socket, handler, "9.9.9");
        server.start();
        try (DdlinkClient c = DdlinkClient.connect(socket, "test")) {
            assertThat(c.list()).hasSize(1);
        }
    }

    private SocketChannel raw() throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        ch.connect(UnixDomainSocketAddress.of(socket));
        return ch;
    }

    private boolean awaitZero() throws InterruptedException {
        for (int i = 0; i < 250 && server.connectionCount() != 0; i++) {
            Thread.sleep(20);
        }
        return server.connectionCount() == 0;
    }

    static final class FakeHandler implements ControlHandler {
        final LinkedBlockingQueue<String> calls = new LinkedBlockingQueue<>();

        static DeviceInfo dev(String name, String state) {
            return new DeviceInfo(name, 4096, state, false, 0, 1, List.of("/x"), null, false);
        }

        @Override public VersionInfo version() { return new VersionInfo("9.9.9", Protocol.VERSION); }
        @Override public List<TargetInfo> targets() { return List.of(new TargetInfo("zero", "1.0.0")); }
        @Override public DeviceInfo create(String name, String table) throws ControlException {
            if (name.equals("bad")) {
                throw new ControlException("table line 1: bad device");
            }
            calls.add("create " + name + " " + table);
            return dev(name, DeviceInfo.ACTIVE);
        }
        @Override public void remove(String name, boolean force) { calls.add("remove " + name + " " + force); }
        @Override public List<DeviceInfo> list() { return List.of(dev("a", DeviceInfo.ACTIVE)); }
        @Override public List<DeviceLines> table(Optional<String> name) { return List.of(new DeviceLines("a", List.of("0 8 zero"))); }
        @Override public List<DeviceLines> status(Optional<String> name) { return List.of(new DeviceLines("a", List.of("0 8 zero"))); }
        @Override public List<DeviceInfo> info(Optional<String> name) { return list(); }
        @Override public DeviceInfo suspend(String name) { return dev(name, DeviceInfo.SUSPENDED); }
        @Override public DeviceInfo resume(String name) { return dev(name, DeviceInfo.ACTIVE); }
        @Override public DeviceInfo reload(String name, String table) { calls.add("reload " + name + " " + table); return dev(name, DeviceInfo.ACTIVE); }
        @Override public DeviceInfo clear(String name) { return dev(name, DeviceInfo.ACTIVE); }
        @Override public DeviceInfo rename(String name, String newName) { return dev(newName, DeviceInfo.ACTIVE); }
        @Override public String message(String name, long sector, String text) { return "ok " + sector + " " + text; }
        @Override public ExportInfo export(String name, Optional<String> exportName, boolean readOnly) {
            return new ExportInfo(name, exportName.orElse(name), readOnly);
        }
        @Override public void unexport(String name) { calls.add("unexport " + name); }
    }
}
