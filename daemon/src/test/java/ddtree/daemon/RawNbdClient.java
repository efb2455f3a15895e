package ddtree.daemon;

import ddtree.nbd.NbdProtocol;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * A deliberately simple NBD client over a plain socket, for the tests that must misbehave on
 * purpose (cut a request short, send garbage) or look at the exact error a request gets. It
 * speaks fixed newstyle without structured replies, so every reply is a simple reply.
 */
final class RawNbdClient implements Closeable {
    final Socket socket;
    final DataInputStream in;
    final DataOutputStream out;
    long exportSize;
    int transmissionFlags;
    private long nextHandle = 1;

    private RawNbdClient(Socket socket) throws IOException {
        this.socket = socket;
        this.in = new DataInputStream(socket.getInputStream());
        this.out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream()));
    }

    /** Connects; reads block for at most 10 s, so a test never hangs on a silent server. */
    static RawNbdClient connect(InetSocketAddress address) throws IOException {
        Socket s = new Socket();
        s.connect(address, 10_000);
        s.setSoTimeout(10_000);
        s.setTcpNoDelay(true);
        return new RawNbdClient(s);
    }

    /** Reads the server greeting and answers with fixed newstyle and no zeroes. */
    RawNbdClient greet() throws IOException {
        long magic = in.readLong();
        long opt = in.readLong();
        if (magic != NbdProtocol.NBDMAGIC || opt != NbdProtocol.IHAVEOPT) {
            throw new IOException(String.format("bad greeting %x %x", magic, opt));
        }
        int flags = in.readUnsignedShort();
        if ((flags & NbdProtocol.FLAG_FIXED_NEWSTYLE) == 0) {
            throw new IOException("server is not fixed newstyle");
        }
        out.writeInt(NbdProtocol.FLAG_C_FIXED_NEWSTYLE | (flags & NbdProtocol.FLAG_NO_ZEROES));
        out.flush();
        noZeroes = (flags & NbdProtocol.FLAG_NO_ZEROES) != 0;
        return this;
    }

    private boolean noZeroes;

    /** Picks an export with NBD_OPT_EXPORT_NAME and enters transmission. */
    RawNbdClient exportName(String name) throws IOException {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        out.writeLong(NbdProtocol.IHAVEOPT);
        out.writeInt(NbdProtocol.OPT_EXPORT_NAME);
        out.writeInt(n.length);
        out.write(n);
        out.flush();
        exportSize = in.readLong();
        transmissionFlags = in.readUnsignedShort();
        if (!noZeroes) {
            in.readFully(new byte[124]);
        }
        return this;
    }

    /** Picks an export with NBD_OPT_GO and enters transmission; throws on an error reply. */
    RawNbdClient go(String name) throws IOException {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        out.writeLong(NbdProtocol.IHAVEOPT);
        out.writeInt(NbdProtocol.OPT_GO);
        out.writeInt(4 + n.length + 2);
        out.writeInt(n.length);
        out.write(n);
        out.writeShort(0);
        out.flush();
        while (true) {
            long magic = in.readLong();
            int option = in.readInt();
            int type = in.readInt();
            int length = in.readInt();
            if (magic != NbdProtocol.OPTION_REPLY_MAGIC || option != NbdProtocol.OPT_GO) {
                throw new IOException(String.format("bad option reply magic %x option %d", magic, option));
            }
            byte[] data = new byte[length];
            in.readFully(data);
            if (type == NbdProtocol.REP_ACK) {
                return this;
            }
            if (type == NbdProtocol.REP_INFO) {
                java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(data);
                if (b.getShort() == NbdProtocol.INFO_EXPORT) {
                    exportSize = b.getLong();
                    transmissionFlags = b.getShort() & 0xffff;
                }
            } else if (type < 0) {
                throw new IOException(String.format("OPT_GO refused: reply type 0x%x %s", type,
                        new String(data, StandardCharsets.UTF_8)));
            }
        }
    }

    /** A simple reply: the error the server gave, and the data of a successful read. */
    record Reply(int errno, long handle, byte[] data) {}

    void sendRequest(int flags, int type, long handle, long offset, int length) throws IOException {
        out.writeInt(NbdProtocol.REQUEST_MAGIC);
        out.writeShort(flags);
        out.writeShort(type);
        out.writeLong(handle);
        out.writeLong(offset);
        out.writeInt(length);
    }

    /** Reads one simple reply; {@code readLength} bytes of data follow it when it succeeded. */
    Reply readReply(int readLength) throws IOException {
        int magic = in.readInt();
        if (magic != NbdProtocol.SIMPLE_REPLY_MAGIC) {
            throw new IOException(String.format("reply magic 0x%x is not the simple reply magic", magic));
        }
        int errno = in.readInt();
        long handle = in.readLong();
        byte[] data = new byte[0];
        if (errno == 0 && readLength > 0) {
            data = new byte[readLength];
            in.readFully(data);
        }
        return new Reply(errno, handle, data);
    }

    /** Writes {@code data} at {@code offset}; returns the errno of the reply (0 for success). */
    int write(long offset, byte[] data) throws IOException {
        long h = nextHandle++;
        sendRequest(0, NbdProtocol.CMD_WRITE, h, offset, data.length);
        out.write(data);
        out.flush();
        return checkedReply(h, 0).errno();
    }

    /** Reads; returns the reply, whose data is empty when errno is not 0. */
    Reply read(long offset, int length) throws IOException {
        long h = nextHandle++;
        sendRequest(0, NbdProtocol.CMD_READ, h, offset, length);
        out.flush();
        return checkedReply(h, length);
    }

    /** Sends a command with no payload (TRIM, WRITE_ZEROES, FLUSH...) and returns its errno. */
    int command(int type, long offset, int length) throws IOException {
        long h = nextHandle++;
        sendRequest(0, type, h, offset, length);
        out.flush();
        return checkedReply(h, 0).errno();
    }

    private Reply checkedReply(long handle, int readLength) throws IOException {
        Reply r = readReply(readLength);
        if (r.handle() != handle) {
            throw new IOException("reply for handle " + r.handle() + ", expected " + handle);
        }
        return r;
    }

    /** Sends NBD_CMD_DISC, after which the server closes the connection. */
    void disconnect() throws IOException {
        sendRequest(0, NbdProtocol.CMD_DISC, nextHandle++, 0, 0);
        out.flush();
    }

    /**
     * Waits for the server to close the connection, discarding anything it sends first. True if
     * it closed (EOF or reset) within {@code timeout}.
     */
    boolean awaitServerClose(Duration timeout) throws IOException {
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
            } catch (EOFException e) {
                return true;
            } catch (IOException e) { // connection reset: closed too
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
