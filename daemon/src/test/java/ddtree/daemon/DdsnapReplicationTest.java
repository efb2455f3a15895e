package ddtree.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import ddtree.ddlink.Json;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Replication between two daemons with ddsnap deltas: a volume written with qemu-io on daemon A,
 * its snapshots sent to daemon B as a full and then an incremental stream, and every snapshot
 * copied out of both with nbdcopy and compared byte for byte. Streams that are cut short,
 * corrupted, or made for another volume or snapshot are refused and leave B exactly as it was.
 */
@Timeout(180)
class DdsnapReplicationTest {
    static final long SIZE = 8L << 20;
    static final int CHUNK = 64 << 10;
    static final long MIB = 1 << 20;
    /** The delta stream header: 56 bytes plus the FROM and TO names. */
    static final int HEADER_AB = 56 + 1 + 1;
    /** The END record: type, record count, data bytes, whole-stream check, checksum. */
    static final int END_RECORD = 1 + 8 + 8 + 4 + 4;

    /** Daemon A and its volumes, made once: the tests only read them. */
    @TempDir
    static Path shared;

    static Daemon a;
    static DdsnapCli snapA;
    static final List<Path> sources = new ArrayList<>();

    @TempDir
    Path dir;

    Daemon b;
    DdsnapCli snapB;
    Path scratch;

    @BeforeAll
    static void startA() throws Exception {
        Tools.requireAll("qemu-io", "nbdcopy");
        Random rnd = new Random(42);
        for (int i = 0; i < 4; i++) {
            byte[] data = new byte[256 << 10];
            rnd.nextBytes(data);
            sources.add(Files.write(shared.resolve("random-" + i + ".bin"), data));
        }
        a = TestDaemons.start(Files.createDirectories(shared.resolve("a")), "spare=ram:1M");
        snapA = new DdsnapCli(a);
        history();
    }

    @AfterAll
    static void stopA() throws Exception {
        if (a != null) {
            a.close();
        }
    }

    @BeforeEach
    void startB() throws Exception {
        scratch = Files.createDirectories(dir.resolve("scratch"));
        b = TestDaemons.start(Files.createDirectories(dir.resolve("b")), "spare=ram:1M");
        snapB = new DdsnapCli(b);
    }

    @AfterEach
    void stopB() throws Exception {
        if (b != null) {
            b.close();
        }
    }

    static void init(DdsnapCli cli, Path home, String volume, long size) {
        cli.ok("init", volume, "--origin", "file:" + home.resolve(volume + ".img") + ":" + size,
                "--store", "file:" + home.resolve(volume + ".snap") + ":32M", "--chunk-size", "64K");
    }

    /** {@code n} writes of 4K to {@code maxLen} at random 512-byte offsets below {@code limit}, random data or a pattern. */
    static List<String> randomWrites(Random rnd, int n, long limit, int maxLen) {
        List<String> cmds = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int len = (1 + rnd.nextInt(maxLen / 4096)) * 4096;
            long off = rnd.nextLong(limit - len) / 512 * 512;
            if (rnd.nextBoolean()) {
                cmds.add("write -s " + sources.get(rnd.nextInt(sources.size())) + " " + off + " " + len);
            } else {
                cmds.add("write -P 0x" + Integer.toHexString(1 + rnd.nextInt(254)) + " " + off + " " + len);
            }
        }
        return cmds;
    }

    /**
     * On A: volume {@code vm} with many random writes, snapshot a; then a few small writes, a
     * write of zeroes over one whole chunk, a trim, and a write where nothing was written before,
     * snapshot b; one more write, snapshot c. Volume {@code other} of the same size with
     * snapshots also named a and b, and volume {@code small} of half the size with a snapshot a.
     */
    static void history() {
        Path home = shared.resolve("a");
        init(snapA, home, "vm", SIZE);
        Random rnd = new Random(7);
        List<String> before = randomWrites(rnd, 24, 6 * MIB, 256 << 10);
        before.add("write -P 0x77 " + 3 * MIB + " 128k");
        before.add("write -P 0x66 " + 4 * MIB + " 256k");
        TestDaemons.qemuIoOk(a.uri("vm"), before.toArray(String[]::new));
        snapA.ok("create", "vm", "a");

        List<String> after = randomWrites(rnd, 3, 6 * MIB, 16 << 10);
        after.add("write -z " + 3 * MIB + " 64k"); // one whole chunk of zeroes
        after.add("discard " + 4 * MIB + " 128k");
        after.add("write -P 0x5a " + (7 * MIB + 512) + " 3k");
        TestDaemons.qemuIoOk(a.uri("vm"), after.toArray(String[]::new));
        snapA.ok("create", "vm", "b");
        TestDaemons.qemuIoOk(a.uri("vm"), "write -P 0x33 " + 2 * MIB + " 64k");
        snapA.ok("create", "vm", "c");

        // The snapshots hold what was written before each of them.
        TestDaemons.qemuIoOk(List.of("-r"), a.uri("vm@a"), "read -P 0x77 " + 3 * MIB + " 128k",
                "read -P 0x66 " + 4 * MIB + " 256k", "read -P 0 " + 7 * MIB + " 1M");
        TestDaemons.qemuIoOk(List.of("-r"), a.uri("vm@b"), "read -P 0 " + 3 * MIB + " 64k",
                "read -P 0x77 " + (3 * MIB + CHUNK) + " 64k", "read -P 0x5a " + (7 * MIB + 512) + " 3k");

        init(snapA, home, "other", SIZE);
        TestDaemons.qemuIoOk(a.uri("other"), "write -P 0x22 0 1M");
        snapA.ok("create", "other", "a");
        TestDaemons.qemuIoOk(a.uri("other"), "write -P 0x23 0 64k");
        snapA.ok("create", "other", "b");

        init(snapA, home, "small", SIZE / 2);
        TestDaemons.qemuIoOk(a.uri("small"), "write -P 0x11 0 1M");
        snapA.ok("create", "small", "a");
    }

    /** {@code ddsnap delta create vm ARGS} on A: the stream. */
    static byte[] delta(String... args) {
        List<String> all = new ArrayList<>(List.of("delta", "create", "vm"));
        all.addAll(List.of(args));
        DdsnapCli.Result r = snapA.run(all.toArray(String[]::new)).ok();
        assertThat(r.err()).as(r.toString()).contains("ddsnap: delta ");
        return r.stdout();
    }

    DdsnapCli.Result apply(byte[] stream, String... options) {
        known = null; // it may change B
        List<String> all = new ArrayList<>(List.of("delta", "apply", "vm"));
        all.addAll(List.of(options));
        return snapB.runWithInput(stream, all.toArray(String[]::new));
    }

    static String guid(DdsnapCli cli, String volume, String snap) {
        for (JsonNode s : cli.ok("list", volume, "--json").json().path("snapshots")) {
            if (s.path("name").asText().equals(snap)) {
                return s.path("guid").asText();
            }
        }
        throw new AssertionError("no snapshot " + snap + " of " + volume);
    }

    /** B holds A's snapshots, each byte for byte, with A's guids, and its volume holds A's snapshot {@code last}. */
    void assertReplicated(String last, String... snaps) throws IOException {
        for (String s : snaps) {
            VolumeImages.assertSameExports(a.uri("vm@" + s), b.uri("vm@" + s), scratch, "snapshot " + s);
            assertThat(guid(snapB, "vm", s)).as("guid of " + s).isEqualTo(guid(snapA, "vm", s));
        }
        VolumeImages.assertSameExports(a.uri("vm@" + last), b.uri("vm"), scratch, "B's volume");
    }

    @ParameterizedTest(name = "compressed={0}")
    @ValueSource(booleans = {true, false})
    void fullThenIncrementalStreamsRebuildBothSnapshots(boolean compressed) throws Exception {
        init(snapB, dir.resolve("b"), "vm", SIZE);
        String[] compress = compressed ? new String[0] : new String[] {"--no-compress"};
        Path fullFile = dir.resolve("full.delta");
        Path incFile = dir.resolve("inc.delta");
        byte[] full;
        byte[] inc;
        if (compressed) {
            // The full stream through a file, the incremental one through standard output and input.
            snapA.ok(concat(new String[] {"delta", "create", "vm", "a", "-o", fullFile.toString()}, compress));
            full = Files.readAllBytes(fullFile);
            snapB.ok("delta", "apply", "vm", fullFile.toString());
            inc = delta(concat(new String[] {"a", "b"}, compress));
            apply(inc).ok();
        } else {
            full = delta(concat(new String[] {"a"}, compress));
            apply(full).ok();
            snapA.ok(concat(new String[] {"delta", "create", "vm", "a", "b", "-o", incFile.toString()}, compress));
            inc = Files.readAllBytes(incFile);
            snapB.ok("delta", "apply", "vm", incFile.toString());
        }
        assertThat(new String(full, 0, 8, StandardCharsets.US_ASCII)).isEqualTo("DDSNAPDL");
        int flags = (full[10] & 0xff) | (full[11] & 0xff) << 8;
        assertThat(flags).as("the compressed flag").isEqualTo(compressed ? 1 : 0);
        assertThat((inc[10] & 0xff) | (inc[11] & 0xff) << 8).isEqualTo(flags);

        // Little changed between a and b, so the incremental stream is a small part of the full one.
        assertThat((long) inc.length * 8).as("incremental " + inc.length + " bytes, full " + full.length)
                .isLessThan(full.length);
        if (!compressed) {
            // The changed chunks only: the 3 small writes, the zeroed chunk, the trim and the tail write.
            assertThat(inc.length).isLessThan(8 * CHUNK + 4096);
            assertThat(full.length).isGreaterThan(30 * CHUNK);
            // Its records are the chunks A's ddtree:changed:a map of vm@b marks, whole chunks each.
            Set<Long> recorded = new TreeSet<>();
            for (Rec r : records(inc, HEADER_AB)) {
                if (r.type() != 'E') {
                    long offset = ByteBuffer.wrap(inc, r.start() + 1, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
                    assertThat(offset % CHUNK).as(r.toString()).isZero();
                    recorded.add(offset / CHUNK);
                }
            }
            assertThat(recorded).isEqualTo(changedMap(a, "vm@b", "a"));
            assertThat(records(inc, HEADER_AB)).as("a ZERO record for the zeroed chunk and the trimmed ones")
                    .anyMatch(r -> r.type() == 'Z');
        }

        assertReplicated("b", "a", "b");
        awaitSettled();
        assertThat(snapB.ok("list", "vm", "--json").json().path("snapshots")).extracting(s -> s.path("name").asText())
                .containsExactly("a", "b");
        // The two snapshots really differ, so the comparisons above could have failed.
        assertThat(VolumeImages.digest(a, "vm@a")).isNotEqualTo(VolumeImages.digest(a, "vm@b"));
    }

    /** The chunks {@code nbdinfo --map=ddtree:changed:OTHER} marks on an export. */
    static Set<Long> changedMap(Daemon d, String export, String other) {
        Exec.Result r = Exec.run(TestDaemons.CLIENT_TIMEOUT, Tools.require("nbdinfo"), "--map=ddtree:changed:" + other,
                d.uri(export)).assertOk();
        Set<Long> chunks = new TreeSet<>();
        for (String line : r.out().lines().toList()) {
            String[] f = line.strip().split("\\s+");
            if (f.length >= 3 && f[2].equals("1")) {
                for (long c = Long.parseLong(f[0]) / CHUNK; c < (Long.parseLong(f[0]) + Long.parseLong(f[1])) / CHUNK; c++) {
                    chunks.add(c);
                }
            }
        }
        return chunks;
    }

    /**
     * B's volume and snapshots as they are, to tell that a refused stream changed nothing: the
     * snapshot list, the store's use, and every export's bytes.
     */
    record BState(String list, String status, Map<String, String> digests) {}

    /** B's state before the refusals under test; null once B was changed on purpose. */
    BState known;

    BState state() throws IOException {
        String list = snapB.ok("list", "vm", "--json").out();
        String status = snapB.ok("status", "vm", "--json").out();
        Map<String, String> digests = new LinkedHashMap<>();
        digests.put("vm", VolumeImages.digest(b, "vm"));
        for (JsonNode s : parse(list).path("snapshots")) {
            String name = s.path("name").asText();
            digests.put("vm@" + name, VolumeImages.digest(b, "vm@" + name));
        }
        return new BState(list, status, digests);
    }

    static JsonNode parse(String text) {
        try {
            return Json.MAPPER.readTree(text);
        } catch (IOException e) {
            throw new AssertionError(text, e);
        }
    }

    /**
     * Waits until B's store has reclaimed the snapshots deleted in the background (the hidden one
     * a stream applied well leaves), so that its list and status stay as they are.
     */
    void awaitSettled() throws InterruptedException {
        boolean settled = TestDaemons.await(Duration.ofSeconds(30),
                () -> snapB.ok("status", "vm", "--json").json().path("deleting").asLong() == 0);
        assertThat(settled).as("B's deleted snapshots reclaimed").isTrue();
    }

    /**
     * Applies {@code stream} on B: refused (exit 1) with a message containing each of
     * {@code says}, and B exactly as it was.
     */
    DdsnapCli.Result assertRefused(byte[] stream, String what, String... says) throws Exception {
        return assertRefused(new String[0], stream, what, says);
    }

    /** As above, with options for {@code delta apply}. */
    DdsnapCli.Result assertRefused(String[] options, byte[] stream, String what, String... says) throws Exception {
        if (known == null) {
            awaitSettled();
            known = state();
        }
        DdsnapCli.Result r = snapB.runWithInput(stream, concat(new String[] {"delta", "apply", "vm"}, options));
        assertThat(r.code()).as(what + "\n" + r).isEqualTo(1);
        assertThat(r.err()).as(what + "\n" + r).contains(says);
        BState after = state();
        assertThat(after.list()).as(what + ": list --json").isEqualTo(known.list());
        assertThat(after.status()).as(what + ": status --json").isEqualTo(known.status());
        assertThat(after.digests()).as(what + ": the bytes of B's volume and snapshots").isEqualTo(known.digests());
        return r;
    }

    /** B with snapshot a, from a full stream. */
    byte[] replicateA() throws Exception {
        init(snapB, dir.resolve("b"), "vm", SIZE);
        byte[] full = delta("a");
        apply(full).ok();
        return full;
    }

    /** One record of an uncompressed stream: where it starts, its type byte, and its whole length. */
    record Rec(int number, int start, char type, int length) {
        int end() {
            return start + length;
        }
    }

    /** The records of an uncompressed stream whose header is {@code headerLength} bytes, END included. */
    static List<Rec> records(byte[] s, int headerLength) {
        List<Rec> out = new ArrayList<>();
        int pos = headerLength;
        while (pos < s.length) {
            char type = (char) s[pos];
            int len = switch (type) {
                case 'D' -> 13 + ByteBuffer.wrap(s, pos + 9, 4).order(ByteOrder.LITTLE_ENDIAN).getInt() + 4;
                case 'Z' -> 21;
                case 'E' -> END_RECORD;
                default -> throw new AssertionError("record type " + (int) type + " at byte " + pos);
            };
            out.add(new Rec(out.size() + 1, pos, type, len));
            pos += len;
        }
        assertThat(pos).isEqualTo(s.length);
        assertThat(out.getLast().type()).isEqualTo('E');
        return out;
    }

    /** The longest DATA record. */
    static Rec longestData(List<Rec> recs) {
        return recs.stream().filter(r -> r.type() == 'D').max(Comparator.comparingInt(Rec::length)).orElseThrow();
    }

    @Test
    void aStreamCutShortIsRefusedAndLeavesTheVolumeAsItWas() throws Exception {
        replicateA();
        byte[] inc = delta("a", "b", "--no-compress");
        int n = inc.length;
        List<Rec> recs = records(inc, HEADER_AB);
        assertThat(recs).as("records of a..b").hasSizeGreaterThan(4);
        Rec end = recs.getLast();
        Rec data = longestData(recs);
        Map<Integer, String[]> cuts = new LinkedHashMap<>();
        cuts.put(0, new String[] {"not a ddsnap delta stream (it is empty)"});
        cuts.put(1, new String[] {"cut short in its header"});
        cuts.put(30, new String[] {"cut short in its header"});
        cuts.put(HEADER_AB, new String[] {"ends without its END record (after the header, at byte " + HEADER_AB + ")"});
        cuts.put(HEADER_AB + 7, new String[] {"cut short in record 1 at byte " + HEADER_AB});
        cuts.putIfAbsent(data.start() + data.length() / 2, new String[] {"cut short in record " + data.number() + " at byte "
                + data.start() + " (DATA at offset"});
        cuts.putIfAbsent(data.start(), new String[] {"ends without its END record (after record " + (data.number() - 1)});
        cuts.putIfAbsent(end.start(), new String[] {"ends without its END record (after record " + (end.number() - 1)});
        cuts.putIfAbsent(n - 1, new String[] {"cut short in record " + end.number() + " at byte " + end.start()});
        for (Map.Entry<Integer, String[]> c : cuts.entrySet()) {
            String what = "uncompressed stream of " + n + " bytes cut at " + c.getKey();
            DdsnapCli.Result r = assertRefused(Arrays.copyOf(inc, c.getKey()), what, c.getValue());
            if (c.getKey() >= HEADER_AB) {
                // Records may have been written: the volume was reverted, and the message says so.
                assertThat(r.err()).as(what).contains("delta stream refused", "volume vm is as it was");
            }
        }
        byte[] zinc = delta("a", "b");
        for (int cut : new int[] {HEADER_AB + 10, zinc.length / 2, zinc.length - 1}) {
            // Positions in the decoded body: the decoder yields a zstd block only once it is whole.
            assertRefused(Arrays.copyOf(zinc, cut), "compressed stream of " + zinc.length + " bytes cut at " + cut,
                    "delta stream refused: delta stream cut short", "volume vm is as it was");
        }
        // The whole stream still applies.
        apply(inc).ok();
        assertReplicated("b", "a", "b");
    }

    @Test
    void aFlippedByteIsRefusedAndLeavesTheVolumeAsItWas() throws Exception {
        replicateA();
        byte[] inc = delta("a", "b", "--no-compress");
        int n = inc.length;
        List<Rec> recs = records(inc, HEADER_AB);
        Rec end = recs.getLast();
        Rec last = recs.get(recs.size() - 2);
        Rec data = longestData(recs);
        Map<Integer, String> cases = new LinkedHashMap<>();
        cases.put(0, "not a ddsnap delta stream (magic 0x");
        cases.put(16, "delta stream header checksum"); // the volume size
        cases.put(33, "delta stream header checksum"); // the FROM guid
        cases.put(HEADER_AB - 1, "delta stream header checksum"); // the header checksum itself
        cases.putIfAbsent(HEADER_AB + 5, "record 1 at byte " + HEADER_AB + ": checksum mismatch"); // an offset
        cases.putIfAbsent(data.start() + 13 + data.length() / 3, "record " + data.number() + " at byte " + data.start()
                + ": checksum mismatch"); // data
        cases.putIfAbsent(last.end() - 1, "record " + last.number() + " at byte " + last.start() + ": checksum mismatch");
        cases.putIfAbsent(end.start() + 3, "record " + end.number() + " at byte " + end.start() + ": checksum mismatch"); // count
        cases.putIfAbsent(end.start() + 18, "record " + end.number() + " at byte " + end.start() + ": checksum mismatch"); // check
        cases.putIfAbsent(n - 1, "record " + end.number() + " at byte " + end.start() + ": checksum mismatch");
        for (Map.Entry<Integer, String> c : cases.entrySet()) {
            byte[] bad = inc.clone();
            bad[c.getKey()] ^= 0x10;
            String what = "byte " + c.getKey() + " of " + n + " flipped";
            DdsnapCli.Result r = assertRefused(bad, what, c.getValue());
            if (c.getKey() >= HEADER_AB) {
                assertThat(r.err()).as(what).contains("delta stream refused", "volume vm is as it was");
            }
        }
        apply(inc).ok();
        assertReplicated("b", "a", "b");
    }

    @Test
    void streamsForAnotherVolumeOrSnapshotAreRefused() throws Exception {
        byte[] full = replicateA();
        byte[] small = snapA.run("delta", "create", "small", "a").ok().stdout();
        assertRefused(small, "a stream for a volume of half the size",
                "the stream is for a volume of " + SIZE / 2 + " bytes", "vm is " + SIZE + " bytes");

        // A snapshot of the same name, but not the same snapshot: another volume's snapshot a.
        byte[] otherAb = snapA.run("delta", "create", "other", "a", "b").ok().stdout();
        assertRefused(otherAb, "a stream from another volume's snapshot a",
                "snapshot 'a' of vm is not the one the stream starts from", guid(snapA, "other", "a"));

        byte[] bc = delta("b", "c");
        assertRefused(bc, "b..c where B lacks b", "the stream starts from snapshot 'b', which volume vm does not have");

        assertRefused(full, "the full stream of a again", "already has a snapshot 'a'");
        assertRefused(delta("b"), "a full stream over a volume with snapshots",
                "a full stream overwrites all of vm, which has snapshots; --force");

        // a..b applies; applying it again finds TO there; b..c applies after it.
        byte[] ab = delta("a", "b");
        apply(ab).ok();
        assertRefused(ab, "a..b again", "volume vm already has a snapshot 'b'");
        apply(bc).ok();
        assertReplicated("c", "a", "b", "c");
    }

    @Test
    void aVolumeWrittenAfterFromNeedsForceWhichRollsItBack() throws Exception {
        replicateA();
        byte[] ab = delta("a", "b");
        TestDaemons.qemuIoOk(b.uri("vm"), "write -P 0xee " + 3 * MIB + " 8k", "write -P 0xef " + (7 * MIB + 512) + " 1k");
        assertRefused(ab, "B's volume written after a", "changed since snapshot 'a'", "--force");
        // With --force, a stream refused after all leaves what was written on B, not the rollback.
        byte[] plain = delta("a", "b", "--no-compress");
        byte[] corrupt = plain.clone();
        corrupt[corrupt.length - END_RECORD - 1] ^= 1; // the last record's checksum: everything else was applied
        assertRefused(new String[] {"--force"}, Arrays.copyOf(ab, ab.length - 1), "--force, a stream cut short",
                "cut short", "volume vm is as it was");
        assertRefused(new String[] {"--force"}, corrupt, "--force, a corrupt stream", "checksum mismatch",
                "volume vm is as it was");
        TestDaemons.qemuIoOk(b.uri("vm"), "read -P 0xee " + 3 * MIB + " 8k", "read -P 0xef " + (7 * MIB + 512) + " 1k");

        DdsnapCli.Result r = apply(ab, "--force").ok();
        assertThat(r.out()).contains("snapshot b of vm received");
        assertReplicated("b", "a", "b");
    }

    static String[] concat(String[] x, String[] y) {
        String[] all = Arrays.copyOf(x, x.length + y.length);
        System.arraycopy(y, 0, all, x.length, y.length);
        return all;
    }
}
