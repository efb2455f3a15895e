package ddtree.nbd;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class HandshakeTest {
    private ServerFixture fx;

    @BeforeEach
    void start() throws Exception {
        fx = new ServerFixture();
    }

    @AfterEach
    void stop() throws Exception {
        fx.close();
    }

    @Test
    void greetingOffersFixedNewstyleAndNoZeroes() throws Exception {
        try (RawClient c = fx.client().greet()) {
            assertThat(c.handshakeFlags).isEqualTo(NbdProtocol.FLAG_FIXED_NEWSTYLE | NbdProtocol.FLAG_NO_ZEROES);
        }
    }

    @Test
    void listNamesEveryExportWithItsDescription() throws Exception {
        try (RawClient c = fx.client().greet()) {
            List<RawClient.OptionReply> replies = c.option(NbdProtocol.OPT_LIST, new byte[0]);
            assertThat(replies.getLast().type()).isEqualTo(NbdProtocol.REP_ACK);
            List<String> names = replies.stream()
                    .filter(r -> r.type() == NbdProtocol.REP_SERVER)
                    .map(r -> {
                        ByteBuffer b = ByteBuffer.wrap(r.data());
                        int n = b.getInt();
                        return new String(r.data(), 4, n, StandardCharsets.UTF_8) + "|"
                                + new String(r.data(), 4 + n, r.data().length - 4 - n, StandardCharsets.UTF_8);
                    })
                    .toList();
            assertThat(names).containsExactly("odd|", "ram|a RAM disk", "ro|read-only");
        }
    }

    @Test
    void listWithDataIsInvalidAndTheStreamGoesOn() throws Exception {
        try (RawClient c = fx.client().greet()) {
            assertThat(c.option(NbdProtocol.OPT_LIST, new byte[3]).getLast().type())
                    .isEqualTo(NbdProtocol.REP_ERR_INVALID);
            assertThat(c.option(NbdProtocol.OPT_LIST, new byte[0]).getLast().type()).isEqualTo(NbdProtocol.REP_ACK);
        }
    }

    @Test
    void unknownOptionsAndExtendedHeadersAreUnsupportedWithoutLosingTheStream() throws Exception {
        try (RawClient c = fx.client().greet()) {
            assertThat(c.option(0x7777, new byte[100]).getLast().type()).isEqualTo(NbdProtocol.REP_ERR_UNSUP);
            assertThat(c.option(NbdProtocol.OPT_EXTENDED_HEADERS, new byte[0]).getLast().type())
                    .isEqualTo(NbdProtocol.REP_ERR_UNSUP);
            // Options too long to parse are skipped by their length.
            assertThat(c.option(0x7778, new byte[200_000]).getLast().type()).isEqualTo(NbdProtocol.REP_ERR_UNSUP);
            assertThat(c.option(NbdProtocol.OPT_GO, new byte[200_000]).getLast().type())
                    .isEqualTo(NbdProtocol.REP_ERR_INVALID);
            assertThat(c.option(NbdProtocol.OPT_GO, RawClient.goData("ram")).getLast().type())
                    .isEqualTo(NbdProtocol.REP_ACK);
            c.request(0, NbdProtocol.CMD_FLUSH, 1, 0, 0, null);
            assertThat(c.simpleReply()).containsExactly(0, 1);
        }
    }

    @Test
    void starttlsIsRefusedAsUnsupported() throws Exception {
        try (RawClient c = fx.client().greet()) {
            RawClient.OptionReply r = c.option(NbdProtocol.OPT_STARTTLS, new byte[0]).getLast();
            assertThat(r.type()).isEqualTo(NbdProtocol.REP_ERR_UNSUP);
            assertThat(r.text()).contains("TLS");
            assertThat(c.option(NbdProtocol.OPT_STARTTLS, new byte[1]).getLast().type())
                    .isEqualTo(NbdProtocol.REP_ERR_INVALID);
        }
    }

    @Test
    void abortIsAcknowledgedThenClosed() throws Exception {
        try (RawClient c = fx.client().greet()) {
            assertThat(c.option(NbdProtocol.OPT_ABORT, new byte[0]).getLast().type()).isEqualTo(NbdProtocol.REP_ACK);
            assertThat(c.closedByServer()).isTrue();
        }
    }

    @Test
    void infoReportsSizeFlagsNameDescriptionAndBlockSizes() throws Exception {
        try (RawClient c = fx.client().greet()) {
            List<RawClient.OptionReply> replies = c.option(NbdProtocol.OPT_INFO,
                    RawClient.goData("ro", NbdProtocol.INFO_NAME, NbdProtocol.INFO_DESCRIPTION, NbdProtocol.INFO_BLOCK_SIZE));
            assertThat(replies.getLast().type()).isEqualTo(NbdProtocol.REP_ACK);
            boolean sawExport = false, sawName = false, sawDesc = false, sawBlock = false;
            for (RawClient.OptionReply r : replies) {
                if (r.type() != NbdProtocol.REP_INFO) {
                    continue;
                }
                ByteBuffer b = ByteBuffer.wrap(r.data());
                switch (b.getShort()) {
                    case NbdProtocol.INFO_EXPORT -> {
                        sawExport = true;
                        assertThat(b.getLong()).isEqualTo(ServerFixture.RAM_SIZE);
                        int flags = b.getShort() & 0xffff;
                        assertThat(flags & NbdProtocol.FLAG_READ_ONLY).isNotZero();
                        assertThat(flags & NbdProtocol.FLAG_CAN_MULTI_CONN).isNotZero();
                        assertThat(flags & NbdProtocol.FLAG_SEND_TRIM).isZero();
                    }
                    case NbdProtocol.INFO_NAME -> {
                        sawName = true;
                        assertThat(new String(r.data(), 2, r.data().length - 2, StandardCharsets.UTF_8)).isEqualTo("ro");
                    }
                    case NbdProtocol.INFO_DESCRIPTION -> {
                        sawDesc = true;
                        assertThat(new String(r.data(), 2, r.data().length - 2, StandardCharsets.UTF_8)).isEqualTo("read-only");
                    }
                    case NbdProtocol.INFO_BLOCK_SIZE -> {
                        sawBlock = true;
                        assertThat(b.getInt()).isEqualTo(1);
                        assertThat(b.getInt()).isEqualTo(4096);
                        assertThat(b.getInt()).isEqualTo(32 << 20);
                    }
                    default -> { }
                }
            }
            assertThat(sawExport && sawName && sawDesc && sawBlock).isTrue();
            // INFO does not end the handshake: GO still works.
            c.option(NbdProtocol.OPT_GO, RawClient.goData("ram"));
            c.request(0, NbdProtocol.CMD_FLUSH, 1, 0, 0, null);
            assertThat(c.simpleReply()).containsExactly(0, 1);
        }
    }

    @Test
    void goToAnUnknownExportIsErrUnknownAndHagglingContinues() throws Exception {
        try (RawClient c = fx.client().greet()) {
            RawClient.OptionReply r = c.option(NbdProtocol.OPT_GO, RawClient.goData("nope")).getLast();
            assertThat(r.type()).isEqualTo(NbdProtocol.REP_ERR_UNKNOWN);
            assertThat(r.text()).contains("nope");
            c.option(NbdProtocol.OPT_GO, RawClient.goData(""));
            c.request(0, NbdProtocol.CMD_READ, 9, 0, 512, null);
            assertThat(c.simpleReply()).containsExactly(0, 9);
        }
    }

    @Test
    void malformedGoDataIsInvalid() throws Exception {
        try (RawClient c = fx.client().greet()) {
            byte[] bad = ByteBuffer.allocate(10).putInt(1000).array(); // name longer than the data
            assertThat(c.option(NbdProtocol.OPT_GO, bad).getLast().type()).isEqualTo(NbdProtocol.REP_ERR_INVALID);
            byte[] badCount = ByteBuffer.allocate(7).putInt(0).putShort((short) 3).array();
            assertThat(c.option(NbdProtocol.OPT_GO, badCount).getLast().type()).isEqualTo(NbdProtocol.REP_ERR_INVALID);
            assertThat(c.option(NbdProtocol.OPT_GO, new byte[2]).getLast().type()).isEqualTo(NbdProtocol.REP_ERR_INVALID);
        }
    }

    @Test
    void metaContextsNeedStructuredRepliesAndListBaseAllocation() throws Exception {
        try (RawClient c = fx.client().greet()) {
            assertThat(c.option(NbdProtocol.OPT_SET_META_CONTEXT, RawClient.metaData("ram", "base:allocation"))
                    .getLast().type()).isEqualTo(NbdProtocol.REP_ERR_INVALID);
            c.option(NbdProtocol.OPT_STRUCTURED_REPLY, new byte[0]);
            List<RawClient.OptionReply> list = c.option(NbdProtocol.OPT_LIST_META_CONTEXT, RawClient.metaData("ram"));
            assertThat(list).hasSize(2);
            assertThat(new String(list.get(0).data(), 4, list.get(0).data().length - 4, StandardCharsets.UTF_8))
                    .isEqualTo("base:allocation");
            List<RawClient.OptionReply> none = c.option(NbdProtocol.OPT_SET_META_CONTEXT,
                    RawClient.metaData("ram", "other:thing"));
            assertThat(none).hasSize(1);
            assertThat(none.getFirst().type()).isEqualTo(NbdProtocol.REP_ACK);
            assertThat(c.option(NbdProtocol.OPT_SET_META_CONTEXT, RawClient.metaData("missing", "base:allocation"))
                    .getLast().type()).isEqualTo(NbdProtocol.REP_ERR_UNKNOWN);
            byte[] truncated = ByteBuffer.allocate(12).putInt(0).putInt(2).putInt(50).array();
            assertThat(c.option(NbdProtocol.OPT_SET_META_CONTEXT, truncated).getLast().type())
                    .isEqualTo(NbdProtocol.REP_ERR_INVALID);
        }
    }

    @Test
    void exportNameToAnUnknownExportClosesTheConnectionOnly() throws Exception {
        try (RawClient c = fx.client().greet()) {
            c.sendOption(NbdProtocol.OPT_EXPORT_NAME, "nope".getBytes(StandardCharsets.UTF_8));
            assertThat(c.closedByServer()).isTrue();
        }
        try (RawClient c = fx.client().greet()) {
            c.sendOption(NbdProtocol.OPT_EXPORT_NAME, "odd".getBytes(StandardCharsets.UTF_8));
            assertThat(c.in.readLong()).isEqualTo(ServerFixture.ODD_SIZE);
            int flags = c.in.readUnsignedShort();
            assertThat(flags & NbdProtocol.FLAG_HAS_FLAGS).isNotZero();
            c.request(0, NbdProtocol.CMD_READ, 5, 0, 10, null);
            assertThat(c.simpleReply()).containsExactly(0, 5);
        }
    }

    @Test
    void unknownClientFlagsOrBadOptionMagicCloseTheConnection() throws Exception {
        try (RawClient c = fx.client()) {
            c.in.readLong();
            c.in.readLong();
            c.in.readUnsignedShort();
            c.out.writeInt(0x80);
            c.out.flush();
            assertThat(c.closedByServer()).isTrue();
        }
        try (RawClient c = fx.client().greet()) {
            c.out.writeLong(0x1234);
            c.out.writeInt(1);
            c.out.writeInt(0);
            c.out.flush();
            assertThat(c.closedByServer()).isTrue();
        }
        try (RawClient c = fx.client().go("ram", false)) {
            c.request(0, NbdProtocol.CMD_FLUSH, 1, 0, 0, null);
            assertThat(c.simpleReply()).containsExactly(0, 1);
        }
    }
}
