package ddtree.nbd.client;

import ddtree.nbd.NbdProtocol;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * The client side of the fixed-newstyle handshake: STRUCTURED_REPLY, SET_META_CONTEXT for
 * {@code base:allocation}, then GO asking for INFO_BLOCK_SIZE, falling back to EXPORT_NAME for a
 * server that does not know GO. Runs once per connection, so it may allocate; the streams are
 * unbuffered so that no byte of the transmission phase is read here.
 */
final class ClientHandshake {
    /** Oldstyle servers send this where newstyle ones send IHAVEOPT. */
    private static final long OLDSTYLE_MAGIC = 0x00420281861253L;
    /** Longest option reply we accept: far above anything a server sends during haggling. */
    private static final int MAX_REPLY = 64 << 10;
    /** Replies to one option before we call it a flood. */
    private static final int MAX_REPLIES = 1024;

    private final DataInputStream in;
    private final DataOutputStream out;
    private final String exportName;
    private final String where;

    ClientHandshake(InputStream in, OutputStream out, String exportName, String where) {
        this.in = new DataInputStream(in);
        this.out = new DataOutputStream(out);
        this.exportName = exportName;
        this.where = where;
    }

    ExportInfo negotiate() throws IOException {
        if (in.readLong() != NbdProtocol.NBDMAGIC) {
            throw new IOException(where + " is not an NBD server (bad greeting magic)");
        }
        long second = in.readLong();
        if (second == OLDSTYLE_MAGIC) {
            throw new IOException(where + " speaks only the oldstyle NBD handshake");
        }
        if (second != NbdProtocol.IHAVEOPT) {
            throw new IOException(String.format("%s sent greeting magic 0x%x, not IHAVEOPT", where, second));
        }
        int serverFlags = in.readUnsignedShort();
        if ((serverFlags & NbdProtocol.FLAG_FIXED_NEWSTYLE) == 0) {
            throw new IOException(where + " does not offer fixed newstyle negotiation");
        }
        boolean noZeroes = (serverFlags & NbdProtocol.FLAG_NO_ZEROES) != 0;
        out.writeInt(NbdProtocol.FLAG_C_FIXED_NEWSTYLE | (noZeroes ? NbdProtocol.FLAG_C_NO_ZEROES : 0));

        boolean structured = structuredReplies();
        int contextId = structured ? baseAllocation() : -1;
        ExportInfo info = go(structured, contextId);
        if (info == null) {
            info = exportName(noZeroes, structured, contextId);
        }
        return info;
    }

    private boolean structuredReplies() throws IOException {
        sendOption(NbdProtocol.OPT_STRUCTURED_REPLY, new byte[0]);
        Reply r = readReply(NbdProtocol.OPT_STRUCTURED_REPLY);
        if (r.type == NbdProtocol.REP_ACK) {
            return true;
        }
        if (r.type > 0) {
            throw new IOException(where + " answered STRUCTURED_REPLY with reply type " + r.type);
        }
        return false; // an error reply: go on with simple replies
    }

    /** SET_META_CONTEXT base:allocation; the context id, or -1 when the server did not select it. */
    private int baseAllocation() throws IOException {
        byte[] name = exportName.getBytes(StandardCharsets.UTF_8);
        byte[] query = NbdProtocol.BASE_ALLOCATION.getBytes(StandardCharsets.UTF_8);
        ByteBuffer d = ByteBuffer.allocate(4 + name.length + 4 + 4 + query.length);
        d.putInt(name.length).put(name).putInt(1).putInt(query.length).put(query);
        sendOption(NbdProtocol.OPT_SET_META_CONTEXT, d.array());
        int id = -1;
        for (int i = 0; i < MAX_REPLIES; i++) {
            Reply r = readReply(NbdProtocol.OPT_SET_META_CONTEXT);
            if (r.type == NbdProtocol.REP_ACK || r.type < 0) {
                return r.type == NbdProtocol.REP_ACK ? id : -1;
            }
            if (r.type == NbdProtocol.REP_META_CONTEXT && r.data.length >= 4) {
                ByteBuffer b = ByteBuffer.wrap(r.data);
                int ctx = b.getInt();
                String ctxName = new String(r.data, 4, r.data.length - 4, StandardCharsets.UTF_8);
                if (ctxName.equals(NbdProtocol.BASE_ALLOCATION)) {
                    id = ctx;
                }
            }
        }
        throw new IOException(where + " sent more than " + MAX_REPLIES + " replies to SET_META_CONTEXT");
    }

    /** GO; null when the server does not know GO, so the caller falls back to EXPORT_NAME. */
    private ExportInfo go(boolean structured, int contextId) throws IOException {
        byte[] name = exportName.getBytes(StandardCharsets.UTF_8);
        ByteBuffer d = ByteBuffer.allocate(4 + name.length + 2 + 2);
        d.putInt(name.length).put(name).putShort((short) 1).putShort((short) NbdProtocol.INFO_BLOCK_SIZE);
        sendOption(NbdProtocol.OPT_GO, d.array());
        long size = -1;
        int flags = 0;
        int minBlock = 1;
        int preferred = 4096;
        int maxPayload = ExportInfo.DEFAULT_MAX_PAYLOAD;
        for (int i = 0; i < MAX_REPLIES; i++) {
            Reply r = readReply(NbdProtocol.OPT_GO);
            if (r.type == NbdProtocol.REP_ACK) {
                if (size < 0) {
                    throw new IOException(where + " acknowledged GO without NBD_INFO_EXPORT");
                }
                return new ExportInfo(size, flags, minBlock, preferred, maxPayload, structured, contextId);
            }
            if (r.type == NbdProtocol.REP_ERR_UNSUP) {
                return null;
            }
            if (r.type < 0) {
                throw new IOException(refusal(r));
            }
            if (r.type != NbdProtocol.REP_INFO || r.data.length < 2) {
                continue; // replies we did not ask for are ignorable by the spec
            }
            ByteBuffer b = ByteBuffer.wrap(r.data);
            int infoType = b.getShort() & 0xffff;
            if (infoType == NbdProtocol.INFO_EXPORT && r.data.length >= 12) {
                size = b.getLong();
                flags = b.getShort() & 0xffff;
            } else if (infoType == NbdProtocol.INFO_BLOCK_SIZE && r.data.length >= 14) {
                minBlock = b.getInt();
                preferred = b.getInt();
                long max = b.getInt() & 0xffffffffL;
                if (minBlock < 1 || Integer.bitCount(minBlock) != 1 || minBlock > 65536) {
                    throw new IOException(where + " sent minimum block size " + minBlock);
                }
                maxPayload = (int) Math.min(max, Integer.MAX_VALUE);
            }
        }
        throw new IOException(where + " sent more than " + MAX_REPLIES + " replies to GO");
    }

    private ExportInfo exportName(boolean noZeroes, boolean structured, int contextId) throws IOException {
        sendOption(NbdProtocol.OPT_EXPORT_NAME, exportName.getBytes(StandardCharsets.UTF_8));
        long size;
        int flags;
        try {
            size = in.readLong();
            flags = in.readUnsignedShort();
            if (!noZeroes) {
                in.readFully(new byte[124]);
            }
        } catch (EOFException e) {
            // EXPORT_NAME cannot carry an error: a server without the export just hangs up.
            throw new IOException(where + " closed the connection on EXPORT_NAME '" + exportName
                    + "' (no such export?)", e);
        }
        return new ExportInfo(size, flags, 1, 4096, ExportInfo.DEFAULT_MAX_PAYLOAD, structured, contextId);
    }

    private String refusal(Reply r) {
        String text = new String(r.data, StandardCharsets.UTF_8);
        String what = switch (r.type) {
            case NbdProtocol.REP_ERR_UNKNOWN -> "has no export named '" + exportName + "'";
            case NbdProtocol.REP_ERR_TLS_REQD -> "requires TLS, which this client does not speak";
            case NbdProtocol.REP_ERR_SHUTDOWN -> "is shutting down";
            case NbdProtocol.REP_ERR_POLICY -> "refused export '" + exportName + "' by policy";
            default -> String.format("refused export '%s' with error 0x%x", exportName, r.type);
        };
        return where + " " + what + (text.isEmpty() ? "" : ": " + text);
    }

    private void sendOption(int option, byte[] data) throws IOException {
        out.writeLong(NbdProtocol.IHAVEOPT);
        out.writeInt(option);
        out.writeInt(data.length);
        out.write(data);
        out.flush();
    }

    private record Reply(int type, byte[] data) {}

    private Reply readReply(int option) throws IOException {
        long magic = in.readLong();
        if (magic != NbdProtocol.OPTION_REPLY_MAGIC) {
            throw new IOException(String.format("%s sent option reply magic 0x%x", where, magic));
        }
        int replyOption = in.readInt();
        int type = in.readInt();
        long length = in.readInt() & 0xffffffffL;
        if (replyOption != option) {
            throw new IOException(where + " answered option " + replyOption + " when " + option + " was asked");
        }
        if (length > MAX_REPLY) {
            throw new IOException(where + " sent an option reply of " + length + " bytes");
        }
        byte[] data = new byte[(int) length];
        in.readFully(data);
        return new Reply(type, data);
    }
}
