package ddtree.nbd;

import ddtree.block.StatusMaps;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The fixed-newstyle handshake: greeting, client flags, then option haggling until the client
 * picks an export (GO or EXPORT_NAME) or leaves. Every option gets a reply the spec names; an
 * option this server does not know is skipped by its length and answered ERR_UNSUP, so the
 * option stream never loses its place.
 */
final class Handshake {
    private static final Logger LOG = LoggerFactory.getLogger(Handshake.class);

    /** Options longer than this are skipped unread and refused; the longest we parse is far less. */
    private static final int MAX_OPTION_LENGTH = 64 << 10;
    /** A client that sends more than this is flooding us; the connection is closed. */
    private static final int MAX_OPTIONS = 4096;
    private static final long MAX_SKIP = 16L << 20;
    /** The most of a device's own maps one SET_META_CONTEXT selects; each costs a reply chunk per BLOCK_STATUS. */
    static final int MAX_MAP_CONTEXTS = 16;
    /** The id of the first device map selected; the next ones count up from it. */
    private static final int FIRST_MAP_ID = NbdProtocol.BASE_ALLOCATION_ID + 1;

    private final WireInput in;
    private final ReplyWriter out;
    private final ExportCatalog exports;
    private final BooleanSupplier shuttingDown;
    private final String peer;

    private boolean structured;
    private boolean baseAllocation;
    /** The device maps SET_META_CONTEXT selected; the one at index i has id FIRST_MAP_ID + i. */
    private List<String> selectedMaps = List.of();
    /** The export SET_META_CONTEXT was for; contexts apply only if GO picks the same one. */
    private String contextExport;
    private boolean noZeroes;

    Handshake(WireInput in, ReplyWriter out, ExportCatalog exports, BooleanSupplier shuttingDown, String peer) {
        this.in = in;
        this.out = out;
        this.exports = exports;
        this.shuttingDown = shuttingDown;
        this.peer = peer;
    }

    /** Runs the handshake; empty when the client aborted or left before choosing an export. */
    Optional<Session> negotiate() throws IOException {
        ByteBuffer greet = ByteBuffer.allocate(18);
        greet.putLong(NbdProtocol.NBDMAGIC).putLong(NbdProtocol.IHAVEOPT)
                .putShort((short) (NbdProtocol.FLAG_FIXED_NEWSTYLE | NbdProtocol.FLAG_NO_ZEROES)).flip();
        out.raw(greet);

        int clientFlags = in.readInt();
        int known = NbdProtocol.FLAG_C_FIXED_NEWSTYLE | NbdProtocol.FLAG_C_NO_ZEROES;
        if ((clientFlags & ~known) != 0) {
            throw new ProtocolException(String.format("unknown client flags 0x%x", clientFlags));
        }
        boolean fixed = (clientFlags & NbdProtocol.FLAG_C_FIXED_NEWSTYLE) != 0;
        noZeroes = (clientFlags & NbdProtocol.FLAG_C_NO_ZEROES) != 0;

        for (int count = 0; count < MAX_OPTIONS; count++) {
            long magic = in.readLong();
            if (magic != NbdProtocol.IHAVEOPT) {
                throw new ProtocolException(String.format("bad option magic 0x%x", magic));
            }
            int option = in.readInt();
            long length = in.readInt() & 0xffffffffL;
            if (!fixed && option != NbdProtocol.OPT_EXPORT_NAME) {
                throw new ProtocolException("option " + option + " from a client without fixed newstyle");
            }
            if (length > MAX_OPTION_LENGTH) {
                if (length > MAX_SKIP) {
                    throw new ProtocolException("option " + option + " of " + length + " bytes");
                }
                in.skip(length);
                if (option == NbdProtocol.OPT_EXPORT_NAME) {
                    throw new ProtocolException("export name of " + length + " bytes");
                }
                boolean knownOption = option >= NbdProtocol.OPT_EXPORT_NAME && option <= NbdProtocol.OPT_SET_META_CONTEXT;
                reply(option, knownOption ? NbdProtocol.REP_ERR_INVALID : NbdProtocol.REP_ERR_UNSUP,
                        "option " + option + " with " + length + " bytes of data is refused");
                continue;
            }
            byte[] data = in.readBytes((int) length);
            Optional<Session> done = option(option, data);
            if (done != null) {
                return done;
            }
        }
        throw new ProtocolException("more than " + MAX_OPTIONS + " options");
    }

    /** Handles one option; returns null to keep haggling, else the outcome. */
    private Optional<Session> option(int option, byte[] data) throws IOException {
        if (shuttingDown.getAsBoolean() && option != NbdProtocol.OPT_ABORT) {
            if (option == NbdProtocol.OPT_EXPORT_NAME) {
                throw new ProtocolException("server is shutting down");
            }
            reply(option, NbdProtocol.REP_ERR_SHUTDOWN, "server is shutting down");
            return null;
        }
        switch (option) {
            case NbdProtocol.OPT_EXPORT_NAME -> {
                return Optional.of(exportName(data));
            }
            case NbdProtocol.OPT_ABORT -> {
                ack(option);
                return Optional.empty();
            }
            case NbdProtocol.OPT_LIST -> list(data);
            case NbdProtocol.OPT_STARTTLS -> {
                if (data.length != 0) {
                    reply(option, NbdProtocol.REP_ERR_INVALID, "STARTTLS takes no data");
                } else {
                    reply(option, NbdProtocol.REP_ERR_UNSUP, "TLS is not supported by this server");
                }
            }
            case NbdProtocol.OPT_INFO, NbdProtocol.OPT_GO -> {
                Session s = infoOrGo(option, data);
                if (s != null) {
                    return Optional.of(s);
                }
            }
            case NbdProtocol.OPT_STRUCTURED_REPLY -> {
                if (data.length != 0) {
                    reply(option, NbdProtocol.REP_ERR_INVALID, "STRUCTURED_REPLY takes no data");
                } else {
                    structured = true;
                    ack(option);
                }
            }
            case NbdProtocol.OPT_LIST_META_CONTEXT, NbdProtocol.OPT_SET_META_CONTEXT -> metaContext(option, data);
            default -> reply(option, NbdProtocol.REP_ERR_UNSUP, "option " + option + " is not supported");
        }
        return null;
    }

    private Session exportName(byte[] data) throws IOException {
        String name = Strings.decode(data);
        Export export = exports.find(name)
                .orElseThrow(() -> new ProtocolException("client asked for unknown export '" + name + "'"));
        int flags = Session.transmissionFlags(export, structured);
        ByteBuffer b = ByteBuffer.allocate(noZeroes ? 10 : 134);
        b.putLong(export.device().size()).putShort((short) flags);
        b.position(b.limit()).flip();
        out.raw(b);
        LOG.debug("{}: export '{}' by EXPORT_NAME", peer, export.name());
        return session(export, flags);
    }

    /**
     * The session for {@code export}: the meta contexts selected apply only if they were selected
     * for this export, and a device map only if the device still has it.
     */
    private Session session(Export export, int flags) {
        boolean same = export.name().equals(contextExport);
        List<Session.MapContext> maps = new ArrayList<>();
        if (same && export.device() instanceof StatusMaps m) {
            for (int i = 0; i < selectedMaps.size(); i++) {
                String name = selectedMaps.get(i);
                if (m.hasMap(name)) {
                    maps.add(new Session.MapContext(FIRST_MAP_ID + i, name));
                }
            }
        }
        return new Session(export, structured, baseAllocation && same, maps, flags);
    }

    private void list(byte[] data) throws IOException {
        if (data.length != 0) {
            reply(NbdProtocol.OPT_LIST, NbdProtocol.REP_ERR_INVALID, "LIST takes no data");
            return;
        }
        for (Export e : exports.list()) {
            byte[] name = e.name().getBytes(StandardCharsets.UTF_8);
            byte[] desc = Strings.utf8(e.description(), NbdProtocol.MAX_STRING);
            ByteBuffer b = ByteBuffer.allocate(4 + name.length + desc.length);
            b.putInt(name.length).put(name).put(desc).flip();
            reply(NbdProtocol.OPT_LIST, NbdProtocol.REP_SERVER, b);
        }
        ack(NbdProtocol.OPT_LIST);
    }

    private Session infoOrGo(int option, byte[] data) throws IOException {
        ByteBuffer d = ByteBuffer.wrap(data);
        if (d.remaining() < 6) {
            reply(option, NbdProtocol.REP_ERR_INVALID, "option data of " + data.length + " bytes is too short");
            return null;
        }
        long nameLen = d.getInt() & 0xffffffffL;
        if (nameLen > d.remaining() - 2) {
            reply(option, NbdProtocol.REP_ERR_INVALID, "export name length " + nameLen + " exceeds the option data");
            return null;
        }
        byte[] nameBytes = new byte[(int) nameLen];
        d.get(nameBytes);
        int nreq = d.getShort() & 0xffff;
        if (d.remaining() != 2 * nreq) {
            reply(option, NbdProtocol.REP_ERR_INVALID,
                    nreq + " information requests do not match the " + d.remaining() + " bytes left");
            return null;
        }
        boolean wantName = false;
        boolean wantDescription = false;
        for (int i = 0; i < nreq; i++) {
            int type = d.getShort() & 0xffff;
            wantName |= type == NbdProtocol.INFO_NAME;
            wantDescription |= type == NbdProtocol.INFO_DESCRIPTION;
        }
        if (nameLen > NbdProtocol.MAX_STRING) {
            reply(option, NbdProtocol.REP_ERR_INVALID, "export name longer than " + NbdProtocol.MAX_STRING + " bytes");
            return null;
        }
        String name = Strings.decode(nameBytes);
        Optional<Export> found = exports.find(name);
        if (found.isEmpty()) {
            reply(option, NbdProtocol.REP_ERR_UNKNOWN, "no export named '" + name + "'");
            return null;
        }
        Export export = found.get();
        int flags = Session.transmissionFlags(export, structured);

        ByteBuffer info = ByteBuffer.allocate(12);
        info.putShort((short) NbdProtocol.INFO_EXPORT).putLong(export.device().size()).putShort((short) flags).flip();
        reply(option, NbdProtocol.REP_INFO, info);
        if (wantName) {
            byte[] n = export.name().getBytes(StandardCharsets.UTF_8);
            reply(option, NbdProtocol.REP_INFO, ByteBuffer.allocate(2 + n.length)
                    .putShort((short) NbdProtocol.INFO_NAME).put(n).flip());
        }
        if (wantDescription && !export.description().isEmpty()) {
            byte[] n = Strings.utf8(export.description(), NbdProtocol.MAX_STRING);
            reply(option, NbdProtocol.REP_INFO, ByteBuffer.allocate(2 + n.length)
                    .putShort((short) NbdProtocol.INFO_DESCRIPTION).put(n).flip());
        }
        // Minimum 1 asks nothing of the client, so it is safe to send even unrequested.
        reply(option, NbdProtocol.REP_INFO, ByteBuffer.allocate(14)
                .putShort((short) NbdProtocol.INFO_BLOCK_SIZE)
                .putInt(NbdProtocol.MIN_BLOCK)
                .putInt(NbdProtocol.PREFERRED_BLOCK)
                .putInt(NbdProtocol.MAX_PAYLOAD)
                .flip());
        ack(option);
        if (option == NbdProtocol.OPT_INFO) {
            return null;
        }
        LOG.debug("{}: export '{}' by GO", peer, export.name());
        return session(export, flags);
    }

    private void metaContext(int option, byte[] data) throws IOException {
        boolean set = option == NbdProtocol.OPT_SET_META_CONTEXT;
        if (!structured) {
            reply(option, NbdProtocol.REP_ERR_INVALID, "structured replies must be negotiated first");
            return;
        }
        ByteBuffer d = ByteBuffer.wrap(data);
        if (d.remaining() < 8) {
            reply(option, NbdProtocol.REP_ERR_INVALID, "option data of " + data.length + " bytes is too short");
            return;
        }
        long nameLen = d.getInt() & 0xffffffffL;
        if (nameLen > d.remaining() - 4 || nameLen > NbdProtocol.MAX_STRING) {
            reply(option, NbdProtocol.REP_ERR_INVALID, "export name length " + nameLen + " is invalid");
            return;
        }
        byte[] nameBytes = new byte[(int) nameLen];
        d.get(nameBytes);
        long nq = d.getInt() & 0xffffffffL;
        String[] queries = new String[(int) Math.min(nq, 1024)];
        if (nq > 1024) {
            reply(option, NbdProtocol.REP_ERR_INVALID, nq + " queries are too many");
            return;
        }
        for (int i = 0; i < nq; i++) {
            if (d.remaining() < 4) {
                reply(option, NbdProtocol.REP_ERR_INVALID, "query " + i + " is cut short");
                return;
            }
            long qlen = d.getInt() & 0xffffffffL;
            if (qlen > d.remaining() || qlen > NbdProtocol.MAX_STRING) {
                reply(option, NbdProtocol.REP_ERR_INVALID, "query " + i + " length " + qlen + " is invalid");
                return;
            }
            byte[] q = new byte[(int) qlen];
            d.get(q);
            queries[i] = Strings.decode(q);
        }
        if (d.hasRemaining()) {
            reply(option, NbdProtocol.REP_ERR_INVALID, d.remaining() + " bytes follow the last query");
            return;
        }
        String name = Strings.decode(nameBytes);
        Optional<Export> export = exports.find(name);
        if (export.isEmpty()) {
            reply(option, NbdProtocol.REP_ERR_UNKNOWN, "no export named '" + name + "'");
            return;
        }
        StatusMaps maps = export.get().device() instanceof StatusMaps m ? m : null;
        Set<String> found = new LinkedHashSet<>();
        if (nq == 0 && !set) { // LIST with no query lists everything; SET with none selects nothing
            found.add(NbdProtocol.BASE_ALLOCATION);
            if (maps != null) {
                addListed(found, maps.listMaps(""));
            }
        }
        int selected = 0;
        for (String q : queries) {
            if (q.equals(NbdProtocol.BASE_ALLOCATION) || (!set && q.equals("base:"))) {
                found.add(NbdProtocol.BASE_ALLOCATION);
            } else if (maps != null && q.indexOf(':') > 0 && !q.startsWith("base:")) {
                if (!set && q.endsWith(":")) { // "ddtree:", or deeper, lists what the device lists under it
                    addListed(found, maps.listMaps(q));
                }
                boolean room = !set || found.contains(q) || selected < MAX_MAP_CONTEXTS;
                if (room && maps.hasMap(q) && found.add(q) && set) {
                    selected++;
                }
            }
        }
        List<String> names = new ArrayList<>(found);
        if (set) {
            baseAllocation = found.contains(NbdProtocol.BASE_ALLOCATION);
            selectedMaps = names.stream().filter(n -> !n.equals(NbdProtocol.BASE_ALLOCATION)).toList();
            contextExport = export.get().name(); // so "" and the default export's name agree
        }
        for (String n : names) {
            int id = 0; // LIST: the id is reserved
            if (set) {
                id = n.equals(NbdProtocol.BASE_ALLOCATION)
                        ? NbdProtocol.BASE_ALLOCATION_ID
                        : FIRST_MAP_ID + selectedMaps.indexOf(n);
            }
            byte[] ctx = n.getBytes(StandardCharsets.UTF_8);
            reply(option, NbdProtocol.REP_META_CONTEXT, ByteBuffer.allocate(4 + ctx.length).putInt(id).put(ctx).flip());
        }
        ack(option);
    }

    /** Adds the names a device listed, leaving out any that are no valid context name. */
    private static void addListed(Set<String> found, List<String> listed) {
        for (String n : listed) {
            int colon = n.indexOf(':');
            if (colon > 0 && colon < n.length() - 1 && !n.startsWith("base:")
                    && n.getBytes(StandardCharsets.UTF_8).length <= NbdProtocol.MAX_STRING) {
                found.add(n);
            }
        }
    }

    private void ack(int option) throws IOException {
        reply(option, NbdProtocol.REP_ACK, (ByteBuffer) null);
    }

    private void reply(int option, int type, String message) throws IOException {
        ByteBuffer data = null;
        if (message != null) {
            data = ByteBuffer.wrap(Strings.utf8(message, NbdProtocol.MAX_STRING));
            if (type != NbdProtocol.REP_ACK) {
                LOG.debug("{}: option {} refused: {}", peer, option, message);
            }
        }
        reply(option, type, data);
    }

    private void reply(int option, int type, ByteBuffer data) throws IOException {
        int len = data == null ? 0 : data.remaining();
        ByteBuffer b = ByteBuffer.allocate(20 + len);
        b.putLong(NbdProtocol.OPTION_REPLY_MAGIC).putInt(option).putInt(type).putInt(len);
        if (data != null) {
            b.put(data);
        }
        b.flip();
        out.raw(b);
    }
}
