package ddtree.nbd.client;

import static org.assertj.core.api.Assertions.assertThat;

import ddtree.block.DeviceIo;
import ddtree.block.Errno;
import ddtree.block.Extents;
import ddtree.nbd.NbdProtocol;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A minimal old server that knows neither GO nor structured replies: the client must fall back to
 * EXPORT_NAME and simple replies.
 */
@Timeout(60)
class ExportNameFallbackTest {
    static final int SIZE = 1 << 20;

    @Test
    void exportNameAndSimpleRepliesWhenGoIsUnknown() throws Exception {
        byte[] disk = new byte[SIZE];
        AtomicReference<String> askedFor = new AtomicReference<>();
        AtomicReference<Throwable> serverFailure = new AtomicReference<>();
        try (ServerSocket listener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Thread server = Thread.ofPlatform().start(() -> {
                try (Socket s = listener.accept()) {
                    serve(s, disk, askedFor);
                } catch (Throwable e) {
                    serverFailure.set(e);
                }
            });
            NbdClientDevice client = NbdClientDevice.connect("old", "127.0.0.1", listener.getLocalPort(), "legacy",
                    ClientOptions.defaults());
            try (DeviceIo io = new DeviceIo(client)) {
                assertThat(client.size()).isEqualTo(SIZE);
                assertThat(client.capabilities().flush()).isTrue();
                assertThat(client.capabilities().discard()).isFalse();
                assertThat(client.capabilities().extents()).isFalse();
                byte[] data = DeviceIo.randomBytes(70_000, 3);
                assertThat(io.write(333, data)).isEqualTo(Errno.OK);
                assertThat(io.read(333, data.length)).isEqualTo(data);
                assertThat(io.flush()).isEqualTo(Errno.OK);
                assertThat(io.discard(0, 4096)).as("no TRIM offered").isEqualTo(Errno.ENOTSUP);
                Extents e = new Extents(4);
                client.extents(0, SIZE, e);
                assertThat(e.count()).isEqualTo(1);
                assertThat(e.flags(0)).isZero();
            } finally {
                client.close();
            }
            server.join(10_000);
        }
        assertThat(serverFailure.get()).isNull();
        assertThat(askedFor.get()).isEqualTo("legacy");
    }

    private static void serve(Socket s, byte[] disk, AtomicReference<String> askedFor) throws IOException {
        DataInputStream in = new DataInputStream(s.getInputStream());
        DataOutputStream out = new DataOutputStream(s.getOutputStream());
        out.writeLong(NbdProtocol.NBDMAGIC);
        out.writeLong(NbdProtocol.IHAVEOPT);
        out.writeShort(NbdProtocol.FLAG_FIXED_NEWSTYLE | NbdProtocol.FLAG_NO_ZEROES);
        out.flush();
        in.readInt(); // client flags
        for (int i = 0; i < 16; i++) {
            if (in.readLong() != NbdProtocol.IHAVEOPT) {
                throw new IOException("bad option magic");
            }
            int option = in.readInt();
            byte[] data = new byte[in.readInt()];
            in.readFully(data);
            if (option == NbdProtocol.OPT_EXPORT_NAME) {
                askedFor.set(new String(data, StandardCharsets.UTF_8));
                out.writeLong(SIZE);
                out.writeShort(NbdProtocol.FLAG_HAS_FLAGS | NbdProtocol.FLAG_SEND_FLUSH);
                out.flush();
                transmit(in, out, disk);
                return;
            }
            out.writeLong(NbdProtocol.OPTION_REPLY_MAGIC);
            out.writeInt(option);
            out.writeInt(NbdProtocol.REP_ERR_UNSUP);
            out.writeInt(0);
            out.flush();
        }
        throw new IOException("client never chose an export");
    }

    private static void transmit(DataInputStream in, DataOutputStream out, byte[] disk) throws IOException {
        for (int i = 0; i < 10_000; i++) {
            if (in.readInt() != NbdProtocol.REQUEST_MAGIC) {
                throw new IOException("bad request magic");
            }
            in.readShort(); // flags
            int type = in.readShort();
            long cookie = in.readLong();
            int offset = (int) in.readLong();
            int length = in.readInt();
            switch (type) {
                case NbdProtocol.CMD_DISC -> {
                    return;
                }
                case NbdProtocol.CMD_WRITE -> in.readFully(disk, offset, length);
                case NbdProtocol.CMD_READ, NbdProtocol.CMD_FLUSH -> { }
                default -> throw new IOException("unexpected command " + type);
            }
            out.writeInt(NbdProtocol.SIMPLE_REPLY_MAGIC);
            out.writeInt(0);
            out.writeLong(cookie);
            if (type == NbdProtocol.CMD_READ) {
                out.write(disk, offset, length);
            }
            out.flush();
        }
        throw new IOException("more requests than the test sends");
    }
}
