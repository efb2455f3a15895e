package ddtree.nbd;

import java.io.DataInputStream;
import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** A byte-level NBD client for protocol tests: it sends exactly what a test asks, valid or not. */
public final class RawClient implements AutoCloseable {
    public final Socket socket;
    public final DataInputStream in;
    public final DataOutputStream out;
    public int handshakeFlags;
    public int transmissionFlags;
    public long exportSize;
    private long nextCookie = 1;

    public record OptionReply(int option, int type, byte[] data) {
        public String text() {
            return new String(data, StandardCharsets.UTF_8);
        }
    }

    public record Chunk(int flags, int type, long cookie, byte[] payload) {
        public boolean done() {
            return (flags & NbdProtocol.REPLY_FLAG_DONE) != 0;
        }

        public int errorCode() {
            return ByteBuffer.wrap(payload).getInt();
        }

        public String errorMessage() {
            ByteBuffer b = ByteBuffer.wrap(payload);
            b.getInt();
            int n = b.getShort() & 0xffff;
            return new String(payload, 6, n, StandardCharsets.UTF_8);
        }
    }

    /** Connects; reads block for at most ten seconds, so a test never hangs on a silent server. */
    public RawClient(InetSocketAddress address) throws IOException {
        socket = new Socket();
        socket.connect(address, 5000);
        socket.setSoTimeout(10_000);
        socket.setTcpNoDelay(true);
        in = new DataInputStream(socket.getInputStream());
        // Buffered, so each message leaves in one piece: a server that closes after a bad header
        // must not turn the rest of that header into a broken pipe here.
        out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream(), 1 << 16));
    }

    /** Reads the greeting and sends fixed-newstyle + no-zeroes client flags. */
    public RawClient greet() throws IOException {
        if (in.readLong() != NbdProtocol.NBDMAGIC || in.readLong() != NbdProtocol.IHAVEOPT) {
            throw new IOException("bad greeting");
        }
        handshakeFlags = in.readUnsignedShort();
        out.writeInt(NbdProtocol.FLAG_C_FIXED_NEWSTYLE | NbdProtocol.FLAG_C_NO_ZEROES);
        out.flush();
        return this;
    }

    public void sendOption(int option, byte[] data) throws IOException {
        out.writeLong(NbdProtocol.IHAVEOPT);
        out.writeInt(option);
        out.writeInt(data.length);
        out.write(data);
        out.flush();
    }

    public OptionReply readOptionReply() throws IOException {
        long magic = in.readLong();
        if (magic != NbdProtocol.OPTION_REPLY_MAGIC) {
            throw new IOException(String.format("bad option reply magic 0x%x", magic));
        }
        int option = in.readInt();
        int type = in.readInt();
        int len = in.readInt();
        byte[] data = new byte[len];
        in.readFully(data);
        return new OptionReply(option, type, data);
    }

    /** Sends an option and reads replies up to and including the final one (ACK or an error). */
    public List<OptionReply> option(int option, byte[] data) throws IOException {
        sendOption(option, data);
        List<OptionReply> replies = new ArrayList<>();
        while (true) {
            OptionReply r = readOptionReply();
            replies.add(r);
            if (r.type() == NbdProtocol.REP_ACK || r.type() < 0) {
                return replies;
            }
        }
    }

    public static byte[] goData(String name, int... infos) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(4 + n.length + 2 + 2 * infos.length);
        b.putInt(n.length).put(n).putShort((short) infos.length);
        for (int i : infos) {
            b.putShort((short) i);
        }
        return b.array();
    }

    public static byte[] metaData(String name, String... queries) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        int len = 8 + n.length;
        for (String q : queries) {
            len += 4 + q.getBytes(StandardCharsets.UTF_8).length;
        }
        ByteBuffer b = ByteBuffer.allocate(len);
        b.putInt(n.length).put(n).putInt(queries.length);
        for (String q : queries) {
            byte[] qb = q.getBytes(StandardCharsets.UTF_8);
            b.putInt(qb.length).put(qb);
        }
        return b.array();
    }

    /** GO to {@code name}, optionally with structured replies and base:allocation first. */
    public RawClient go(String name, boolean structured) throws IOException {
        greet();
        if (structured) {
            expectAck(option(NbdProtocol.OPT_STRUCTURED_REPLY, new byte[0]));
            expectAck(option(NbdProtocol.OPT_SET_META_CONTEXT, metaData(name, NbdProtocol.BASE_ALLOCATION)));
        }
        for (OptionReply r : option(NbdProtocol.OPT_GO, goData(name))) {
            if (r.type() < 0) {
                throw new IOException("GO refused: " + r.text());
            }
            if (r.type() == NbdProtocol.REP_INFO) {
                ByteBuffer b = ByteBuffer.wrap(r.data());
                if (b.getShort() == NbdProtocol.INFO_EXPORT) {
                    exportSize = b.getLong();
                    transmissionFlags = b.getShort() & 0xffff;
                }
            }
        }
        return this;
    }

    /** Greets and picks {@code name} with NBD_OPT_EXPORT_NAME, the old way into transmission. */
    public RawClient exportName(String name) throws IOException {
        greet();
        sendOption(NbdProtocol.OPT_EXPORT_NAME, name.getBytes(StandardCharsets.UTF_8));
        exportSize = in.readLong();
        transmissionFlags = in.readUnsignedShort();
        if ((handshakeFlags & NbdProtocol.FLAG_NO_ZEROES) == 0) {
            in.readFully(new byte[124]);
        }
        return this;
    }

    private static void expectAck(List<OptionReply> replies) throws IOException {
        if (replies.getLast().type() != NbdProtocol.REP_ACK) {
            throw new IOException("option refused: " + replies.getLast().text());
        }
    }

    public void request(int flags, int type, long cookie, long offset, long length, byte[] payload) throws IOException {
        out.writeInt(NbdProtocol.REQUEST_MAGIC);
        out.writeShort(flags);
        out.writeShort(type);
        out.writeLong(cookie);
        out.writeLong(offset);
        out.writeInt((int) length);
        if (payload != null) {
            out.write(payload);
        }
        out.flush();
    }

    /** Reads a simple reply header; returns {error, cookie}. */
    public long[] simpleReply() throws IOException {
        int magic = in.readInt();
        if (magic != NbdProtocol.SIMPLE_REPLY_MAGIC) {
            throw new IOException(String.format("expected a simple reply, got magic 0x%08x", magic));
        }
        int error = in.readInt();
        long cookie = in.readLong();
        return new long[] {error, cookie};
    }

    public Chunk chunk() throws IOException {
        int magic = in.readInt();
        if (magic != NbdProtocol.STRUCTURED_REPLY_MAGIC) {
            throw new IOException(String.format("expected a structured reply, got magic 0x%08x", magic));
        }
        int flags = in.readUnsignedShort();
        int type = in.readUnsignedShort();
        long cookie = in.readLong();
        int len = in.readInt();
        byte[] payload = new byte[len];
        in.readFully(payload);
        return new Chunk(flags, type, cookie, payload);
    }

    /** Reads every chunk of one structured reply. */
    public List<Chunk> structuredReply() throws IOException {
        List<Chunk> chunks = new ArrayList<>();
        Chunk c;
        do {
            c = chunk();
            chunks.add(c);
        } while (!c.done());
        return chunks;
    }

    /** A simple reply, so the helpers below are for a client without structured replies. */
    public record Reply(int errno, byte[] data) {}

    /** Writes {@code data} at {@code offset}; returns the reply's error, 0 for success. */
    public int write(long offset, byte[] data) throws IOException {
        return call(NbdProtocol.CMD_WRITE, offset, data.length, data, 0).errno();
    }

    /** Reads; the reply's data is empty when its error is not 0. */
    public Reply read(long offset, int length) throws IOException {
        return call(NbdProtocol.CMD_READ, offset, length, null, length);
    }

    /** Sends a command with no payload (TRIM, WRITE_ZEROES, FLUSH...) and returns its error. */
    public int command(int type, long offset, int length) throws IOException {
        return call(type, offset, length, null, 0).errno();
    }

    private Reply call(int type, long offset, long length, byte[] payload, int readLength) throws IOException {
        long cookie = nextCookie++;
        request(0, type, cookie, offset, length, payload);
        long[] r = simpleReply();
        if (r[1] != cookie) {
            throw new IOException("reply for cookie " + r[1] + ", expected " + cookie);
        }
        byte[] data = new byte[r[0] == 0 ? readLength : 0];
        in.readFully(data);
        return new Reply((int) r[0], data);
    }

    /** Sends NBD_CMD_DISC, after which the server closes the connection. */
    public void disconnect() throws IOException {
        request(0, NbdProtocol.CMD_DISC, nextCookie++, 0, 0, null);
    }

    /** True when the server has closed the connection. */
    public boolean closedByServer() throws IOException {
        try {
            return in.read() < 0;
        } catch (EOFException | java.net.SocketException e) {
            return true;
        }
    }

    /** Discards what the server sends until it closes the connection; true if it did within {@code timeout}. */
    public boolean awaitServerClose(Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        byte[] sink = new byte[4096];
        while (System.nanoTime() < deadline) {
            socket.setSoTimeout((int) Math.max(1, Math.min(1000, (deadline - System.nanoTime()) / 1_000_000)));
            try {
                if (in.read(sink) < 0) {
                    return true;
                }
            } catch (SocketTimeoutException e) {
                // keep waiting
            } catch (IOException e) { // EOF or reset: closed too
                return true;
            }
        }
        return false;
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
