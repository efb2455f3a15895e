package ddtree.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ddtree.block.BufferPool;
import ddtree.block.Errno;
import ddtree.block.device.RamDevice;
import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Meta contexts a device offers besides base:allocation: listed, selected and answered, on the wire
 * and to nbdinfo.
 */
@Timeout(120)
class MetaContextTest {
    /** 4096 runs of 64 KiB and half a run more: more than one BLOCK_STATUS reply holds. */
    static final long SIZE = (256L << 20) + (32 << 10);
    static final int MAX_EXTENTS = 2048;

    private final BufferPool pool = new BufferPool(64L << 20, 8L << 20);
    private MapsDevice maps;
    private RamDevice ram;
    private NbdServer server;

    @BeforeEach
    void start() throws IOException {
        maps = new MapsDevice("maps", SIZE);
        ram = new RamDevice("ram", 1 << 20);
        ExportTable exports = new ExportTable();
        exports.put(new Export("maps", "a RAM disk with maps", maps, false));
        exports.put(new Export("ram", "", ram, false));
        exports.setDefaultName("maps");
        server = new NbdServer(NbdServerConfig.loopback(0), exports, pool);
        server.start();
    }

    @AfterEach
    void stop() throws Exception {
        server.close();
        maps.close();
        ram.close();
        assertThat(pool.awaitIdle(5, TimeUnit.SECONDS)).isTrue();
        pool.close();
    }

    private RawClient structured() throws IOException {
        RawClient c = new RawClient(server.localAddress()).greet();
        assertThat(c.option(NbdProtocol.OPT_STRUCTURED_REPLY, new byte[0]).getLast().type())
                .isEqualTo(NbdProtocol.REP_ACK);
        return c;
    }

    /** The contexts in META_CONTEXT replies, as "id name", and checks the final ACK. */
    private static List<String> contexts(List<RawClient.OptionReply> replies) {
        assertThat(replies.getLast().type()).isEqualTo(NbdProtocol.REP_ACK);
        List<String> out = new ArrayList<>();
        for (RawClient.OptionReply r : replies.subList(0, replies.size() - 1)) {
            assertThat(r.type()).isEqualTo(NbdProtocol.REP_META_CONTEXT);
            ByteBuffer b = ByteBuffer.wrap(r.data());
            out.add(b.getInt() + " " + new String(r.data(), 4, r.data().length - 4, StandardCharsets.UTF_8));
        }
        return out;
    }

    private static List<String> list(RawClient c, String export, String... queries) throws IOException {
        return contexts(c.option(NbdProtocol.OPT_LIST_META_CONTEXT, RawClient.metaData(export, queries)));
    }

    private static List<String> set(RawClient c, String export, String... queries) throws IOException {
        return contexts(c.option(NbdProtocol.OPT_SET_META_CONTEXT, RawClient.metaData(export, queries)));
    }

    private static void go(RawClient c, String export) throws IOException {
        assertThat(c.option(NbdProtocol.OPT_GO, RawClient.goData(export)).getLast().type())
                .isEqualTo(NbdProtocol.REP_ACK);
    }

    /** A BLOCK_STATUS chunk's context id and its runs as {length, flags}. */
    record Status(int id, List<long[]> runs) {}

    private static Status status(RawClient.Chunk chunk) {
        assertThat(chunk.type()).isEqualTo(NbdProtocol.REPLY_TYPE_BLOCK_STATUS);
        ByteBuffer p = ByteBuffer.wrap(chunk.payload());
        int id = p.getInt();
        List<long[]> runs = new ArrayList<>();
        while (p.hasRemaining()) {
            runs.add(new long[] {p.getInt() & 0xffffffffL, p.getInt()});
        }
        return new Status(id, runs);
    }

    private static List<String> show(List<long[]> runs) {
        return runs.stream().map(java.util.Arrays::toString).toList();
    }

    @Test
    void listOffersTheDevicesListedMapsAndAnyValidNameAskedFor() throws Exception {
        try (RawClient c = structured()) {
            assertThat(list(c, "maps")).containsExactly("0 base:allocation", "0 " + MapsDevice.EVEN);
            assertThat(list(c, "", "ddtree:")).as("the default export").containsExactly("0 " + MapsDevice.EVEN);
            assertThat(list(c, "maps", "ddtree:test:")).containsExactly("0 " + MapsDevice.EVEN);
            assertThat(list(c, "maps", "base:")).containsExactly("0 base:allocation");
            assertThat(list(c, "maps", MapsDevice.ODD, "ddtree:test:nope", "other:", "nocolon"))
                    .as("an unlisted map is found by its name").containsExactly("0 " + MapsDevice.ODD);
            assertThat(list(c, "maps", "ddtree:", MapsDevice.EVEN, "base:allocation"))
                    .as("each name once").containsExactly("0 " + MapsDevice.EVEN, "0 base:allocation");
            assertThat(list(c, "ram")).as("a device without maps").containsExactly("0 base:allocation");
            assertThat(list(c, "ram", "ddtree:", MapsDevice.EVEN)).isEmpty();
        }
    }

    @Test
    void setGivesEachContextItsOwnIdAndBlockStatusSendsAChunkForEach() throws Exception {
        try (RawClient c = structured()) {
            assertThat(set(c, "maps", MapsDevice.EVEN, "ddtree:test:nope", "base:allocation", MapsDevice.ODD,
                    MapsDevice.EVEN))
                    .containsExactly("2 " + MapsDevice.EVEN, "1 base:allocation", "3 " + MapsDevice.ODD);
            go(c, "maps");
            c.request(0, NbdProtocol.CMD_WRITE, 1, 3 * MapsDevice.CHUNK, 100, new byte[100]);
            c.request(0, NbdProtocol.CMD_FLUSH, 2, 0, 0, null); // a simple reply each
            assertThat(c.simpleReply()[0]).isZero();
            assertThat(c.simpleReply()[0]).isZero();

            long offset = MapsDevice.CHUNK + 4096;
            long length = 5L * MapsDevice.CHUNK;
            c.request(0, NbdProtocol.CMD_BLOCK_STATUS, 3, offset, length, null);
            List<RawClient.Chunk> reply = c.structuredReply();
            assertThat(reply).hasSize(3);
            assertThat(reply).allMatch(ch -> ch.cookie() == 3);
            assertThat(reply.subList(0, 2)).noneMatch(RawClient.Chunk::done);
            Status base = status(reply.get(0));
            Status even = status(reply.get(1));
            Status odd = status(reply.get(2));
            assertThat(base.id()).isEqualTo(NbdProtocol.BASE_ALLOCATION_ID);
            assertThat(show(base.runs())).isEqualTo(show(List.of(
                    new long[] {2 * MapsDevice.CHUNK - 4096, 3},
                    new long[] {MapsDevice.CHUNK, 0},
                    new long[] {2 * MapsDevice.CHUNK + 4096, 3})));
            assertThat(even.id()).isEqualTo(2);
            assertThat(show(even.runs())).isEqualTo(show(MapsDevice.expected(MapsDevice.EVEN, offset, length)));
            assertThat(odd.id()).isEqualTo(3);
            assertThat(show(odd.runs())).isEqualTo(show(MapsDevice.expected(MapsDevice.ODD, offset, length)));

            c.request(NbdProtocol.CMD_FLAG_REQ_ONE, NbdProtocol.CMD_BLOCK_STATUS, 4, offset, length, null);
            reply = c.structuredReply();
            assertThat(reply).hasSize(3);
            assertThat(reply).allSatisfy(ch -> assertThat(ch.payload()).hasSize(12));
            assertThat(status(reply.get(1)).runs().getFirst()).containsExactly(MapsDevice.CHUNK - 4096, 0);
            assertThat(status(reply.get(2)).runs().getFirst()).containsExactly(MapsDevice.CHUNK - 4096, 1);

            // The whole device: each chunk stops at the extent cap, covering what it can from the start.
            c.request(0, NbdProtocol.CMD_BLOCK_STATUS, 5, 0, SIZE, null);
            reply = c.structuredReply();
            assertThat(reply).hasSize(3);
            assertThat(status(reply.get(0)).runs()).hasSize(3);
            for (int i = 1; i < 3; i++) {
                List<long[]> runs = status(reply.get(i)).runs();
                assertThat(runs).hasSize(MAX_EXTENTS);
                assertThat(runs).allMatch(r -> r[0] == MapsDevice.CHUNK);
            }
            c.request(0, NbdProtocol.CMD_BLOCK_STATUS, 6, SIZE - 40_000, 40_000, null);
            reply = c.structuredReply();
            assertThat(show(status(reply.get(1)).runs())).isEqualTo(show(List.of(
                    new long[] {40_000 - (32 << 10), 0}, new long[] {32 << 10, 1})));
        }
    }

    @Test
    void aDeviceMapAloneAnswersInOneFinalChunk() throws Exception {
        try (RawClient c = structured()) {
            assertThat(set(c, "", MapsDevice.ODD)).containsExactly("2 " + MapsDevice.ODD);
            go(c, "maps"); // "" and the default export's name are one export
            c.request(0, NbdProtocol.CMD_BLOCK_STATUS, 1, 0, 3 * MapsDevice.CHUNK, null);
            List<RawClient.Chunk> reply = c.structuredReply();
            assertThat(reply).hasSize(1);
            Status odd = status(reply.getFirst());
            assertThat(odd.id()).isEqualTo(2);
            assertThat(show(odd.runs())).isEqualTo(show(List.of(
                    new long[] {MapsDevice.CHUNK, 0}, new long[] {MapsDevice.CHUNK, 1}, new long[] {MapsDevice.CHUNK, 0})));
        }
    }

    @Test
    void contextsSetForAnotherExportOrNotFoundAreNotSelected() throws Exception {
        try (RawClient c = structured()) {
            assertThat(set(c, "ram", MapsDevice.EVEN)).isEmpty();
            assertThat(set(c, "maps", "ddtree:test:nope", "ddtree:")).isEmpty();
            assertThat(set(c, "ram", "base:allocation", MapsDevice.EVEN)).containsExactly("1 base:allocation");
            go(c, "maps");
            c.request(0, NbdProtocol.CMD_BLOCK_STATUS, 1, 0, 4096, null);
            RawClient.Chunk err = c.chunk();
            assertThat(err.type()).isEqualTo(NbdProtocol.REPLY_TYPE_ERROR);
            assertThat(err.errorCode()).isEqualTo(Errno.EINVAL);
        }
    }

    @Test
    void aSetSelectsAtMostSoManyDeviceMaps() throws Exception {
        String[] queries = new String[Handshake.MAX_MAP_CONTEXTS + 2];
        // One valid map asked for again and again is selected once; the cap counts distinct maps.
        java.util.Arrays.fill(queries, MapsDevice.EVEN);
        try (RawClient c = structured()) {
            assertThat(set(c, "maps", queries)).containsExactly("2 " + MapsDevice.EVEN);
        }
    }

    // nbdinfo

    private static String nbdinfo() {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (new File(dir, "nbdinfo").canExecute()) {
                return new File(dir, "nbdinfo").getPath();
            }
        }
        assumeTrue(false, "nbdinfo is not installed (Debian package libnbd-bin); skipping");
        return null;
    }

    private String uri(String export) {
        return "nbd://127.0.0.1:" + server.localAddress().getPort() + "/" + export;
    }

    /** What a command printed (stdout and stderr together) and its exit code. */
    record Run(String output, int exitCode) {}

    private static Run exec(String... command) throws Exception {
        Path out = Files.createTempFile("nbdinfo-", ".out");
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
                throw new AssertionError(String.join(" ", command) + " timed out");
            }
            return new Run(Files.readString(out), p.exitValue());
        } finally {
            Files.deleteIfExists(out);
        }
    }

    /** Runs a command that must succeed; returns what it printed. */
    private static String run(String... command) throws Exception {
        Run r = exec(command);
        assertThat(r.exitCode()).as(String.join(" ", command) + "\n" + r.output()).isZero();
        return r.output();
    }

    /** {@code nbdinfo --map} lines as {offset, length, type}, adjacent lines of one type merged. */
    private static List<long[]> parseMap(String out) {
        List<long[]> runs = new ArrayList<>();
        Matcher m = Pattern.compile("(?m)^\\s*(\\d+)\\s+(\\d+)\\s+(\\d+)\\b.*$").matcher(out);
        while (m.find()) {
            long offset = Long.parseLong(m.group(1));
            long length = Long.parseLong(m.group(2));
            long type = Long.parseLong(m.group(3));
            if (!runs.isEmpty()) {
                long[] last = runs.getLast();
                assertThat(offset).as("no gap before offset " + offset + "\n" + out).isEqualTo(last[0] + last[1]);
                if (last[2] == type) {
                    last[1] += length;
                    continue;
                }
            }
            runs.add(new long[] {offset, length, type});
        }
        return runs;
    }

    /** Expected runs as {offset, length, flags}. */
    private static List<long[]> withOffsets(List<long[]> runs) {
        List<long[]> out = new ArrayList<>();
        long offset = 0;
        for (long[] r : runs) {
            out.add(new long[] {offset, r[0], r[1]});
            offset += r[0];
        }
        return out;
    }

    @Test
    void nbdinfoMapsADeviceMap() throws Exception {
        String nbdinfo = nbdinfo();
        for (String name : List.of(MapsDevice.EVEN, MapsDevice.ODD)) {
            String out = run(nbdinfo, "--map=" + name, uri("maps"));
            assertThat(show(parseMap(out))).as(out).isEqualTo(show(withOffsets(MapsDevice.expected(name, 0, SIZE))));
        }
        Run unknown = exec(nbdinfo, "--map=ddtree:test:nope", uri("maps"));
        assertThat(unknown.exitCode()).as(unknown.output()).isNotZero();
        Run elsewhere = exec(nbdinfo, "--map=" + MapsDevice.EVEN, uri("ram"));
        assertThat(elsewhere.exitCode()).as("a device without maps\n" + elsewhere.output()).isNotZero();
    }

    @Test
    void nbdinfoMapsAllocationAsBefore() throws Exception {
        String nbdinfo = nbdinfo();
        try (RawClient c = new RawClient(server.localAddress()).go("maps", false)) {
            c.request(0, NbdProtocol.CMD_WRITE, 1, 2 * MapsDevice.CHUNK, MapsDevice.CHUNK, new byte[MapsDevice.CHUNK]);
            assertThat(c.simpleReply()[0]).isZero();
        }
        String out = run(nbdinfo, "--map", uri("maps"));
        assertThat(show(parseMap(out))).as(out).isEqualTo(show(List.of(
                new long[] {0, 2 * MapsDevice.CHUNK, 3},
                new long[] {2 * MapsDevice.CHUNK, MapsDevice.CHUNK, 0},
                new long[] {3 * MapsDevice.CHUNK, SIZE - 3 * MapsDevice.CHUNK, 3})));
    }

    @Test
    void nbdinfoListsTheContexts() throws Exception {
        String nbdinfo = nbdinfo();
        String out = run(nbdinfo, "--json", uri("maps"));
        assertThat(out).contains("\"base:allocation\"").contains("\"" + MapsDevice.EVEN + "\"")
                .doesNotContain(MapsDevice.ODD);
        String plain = run(nbdinfo, uri("ram"));
        assertThat(plain).contains("base:allocation").doesNotContain("ddtree:");
    }
}
