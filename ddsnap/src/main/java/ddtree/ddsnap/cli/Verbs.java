package ddtree.ddsnap.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import ddtree.ddlink.ControlException;
import ddtree.ddlink.DdlinkClient;
import ddtree.ddlink.DeviceInfo;
import ddtree.ddlink.SizeParser;
import ddtree.ddlink.cli.ControlCli.LocalFailure;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** The verbs of {@code ddsnap}: each one call or a few to the daemon over ddlink. */
final class Verbs {
    private Verbs() {}

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss")
            .withZone(ZoneId.systemDefault());

    /** Bytes in the largest binary unit that keeps a whole number part, as {@code 1.5 GiB}. */
    static String size(long bytes) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return u == 0 ? bytes + " B" : String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }

    static String snapshotDevice(String volume, String snap) {
        return volume + "@" + snap;
    }

    static JsonNode message(DdlinkClient c, String volume, String text) throws IOException, ControlException {
        String reply;
        try {
            reply = c.message(volume, 0, text);
        } catch (ControlException e) {
            throw refusal(c, volume, e);
        }
        return reply.isEmpty() ? JSON.createObjectNode() : JSON.readTree(reply);
    }

    /** Where the daemon says which target of which device refused a message; a volume has one. */
    private static final String VOLUME_REFUSAL = "message: sector 0: ddsnap-origin: ";

    /**
     * A volume's refusal in ddsnap's terms: the reason without the device plumbing around it, or,
     * when the device is no volume at all, that.
     */
    private static ControlException refusal(DdlinkClient c, String volume, ControlException e) throws IOException {
        String m = e.getMessage();
        if (m.startsWith(VOLUME_REFUSAL)) {
            return new ControlException(m.substring(VOLUME_REFUSAL.length()));
        }
        try {
            List<String> lines = c.table(Optional.of(volume)).getFirst().lines();
            List<String> types = lines.stream().map(l -> l.split("\\s+")).filter(f -> f.length > 2).map(f -> f[2])
                    .distinct().toList();
            if (!types.equals(List.of("ddsnap-origin"))) {
                return new ControlException("device '" + volume + "' is not a ddsnap volume (its table is "
                        + String.join(", ", types) + "; 'ddsnap init' makes a volume)");
            }
        } catch (ControlException ignored) {
            // no such device: the refusal says so
        }
        return e;
    }

    /** Makes the device {@code VOLUME@SNAP} for a snapshot and exports it, read-only unless writable. */
    static void exportSnapshot(DdlinkClient c, String volume, String snap, boolean writable)
            throws IOException, ControlException {
        long size = c.info(Optional.of(volume)).getFirst().size();
        String device = snapshotDevice(volume, snap);
        c.create(device, "0 " + size / 512 + " ddsnap-snapshot " + volume + " " + snap);
        try {
            c.export(device, Optional.empty(), !writable);
        } catch (ControlException e) {
            c.remove(device, true);
            throw e;
        }
    }

    /** A verb: what it does with one connection, run through {@link DdsnapCommand#call}. */
    abstract static class Verb implements Callable<Integer> {
        @Spec
        CommandLine.Model.CommandSpec spec;

        /** ddsnap itself, from the top of the tree: the delta verbs sit one level further down. */
        DdsnapCommand root() {
            return (DdsnapCommand) spec.root().userObject();
        }

        @Override
        public Integer call() {
            return root().call(spec.commandLine(), this::run);
        }

        abstract void run(DdlinkClient c, PrintWriter out) throws IOException, ControlException;
    }

    @Command(name = "init", description = "Creates a volume and its snapshot store, and exports the volume.")
    static final class Init extends Verb {
        @Parameters(index = "0", paramLabel = "VOLUME")
        String volume;

        @Option(names = "--origin", required = true, paramLabel = "SPEC",
                description = "The volume's data: ram:SIZE, file:PATH[:SIZE] or a device name.")
        String origin;

        @Option(names = "--store", required = true, paramLabel = "SPEC",
                description = "Where snapshots keep the data they no longer share with the volume.")
        String store;

        @Option(names = "--metadata", paramLabel = "SPEC",
                description = "A device of its own for the store's metadata (default: the start of the store).")
        String metadata;

        @Option(names = "--chunk-size", paramLabel = "SIZE", defaultValue = "64K",
                description = "The unit snapshots share and copy, a power of two from 4K to 1M (default: ${DEFAULT-VALUE}).")
        String chunkSize;

        @Override
        void run(DdlinkClient c, PrintWriter out) throws IOException, ControlException {
            long chunk;
            try {
                chunk = SizeParser.parse(chunkSize);
            } catch (IllegalArgumentException e) {
                throw new LocalFailure("--chunk-size " + chunkSize + ": " + e.getMessage());
            }
            if (Long.bitCount(chunk) != 1 || chunk < 4096 || chunk > (1 << 20)) {
                throw new LocalFailure("--chunk-size " + chunkSize + ": not a power of two from 4K to 1M");
            }
            List<String> made = new ArrayList<>();
            try {
                Specs.Resolved o = Specs.resolve(c, "origin", volume + ".origin", origin);
                o.created().ifPresent(made::add);
                Specs.Resolved s = Specs.resolve(c, "store", volume + ".store", store);
                s.created().ifPresent(made::add);
                String meta = "-";
                if (metadata != null) {
                    Specs.Resolved m = Specs.resolve(c, "metadata", volume + ".meta", metadata);
                    m.created().ifPresent(made::add);
                    meta = m.tableArg();
                }
                c.create(volume, "0 " + o.size() / 512 + " ddsnap-origin " + o.tableArg() + " " + s.tableArg() + " "
                        + meta + " " + chunk / 512);
                made.add(volume);
                c.export(volume, Optional.empty(), false);
                out.println("volume " + volume + ": " + size(o.size()) + " in " + size(chunk) + " chunks, store "
                        + s.tableArg() + ", exported as " + volume);
            } catch (IOException | ControlException | RuntimeException e) {
                for (int i = made.size() - 1; i >= 0; i--) {
                    try {
                        c.remove(made.get(i), true);
                    } catch (ControlException | IOException ignored) {
                        // best effort: the first error is the one to report
                    }
                }
                throw e;
            }
        }
    }

    @Command(name = "create", description = "Takes a snapshot, exported as VOLUME@SNAP (read-only unless --writable).")
    static final class Create extends Verb {
        @Parameters(index = "0", paramLabel = "VOLUME")
        String volume;

        @Parameters(index = "1", paramLabel = "SNAP")
        String snap;

        @Option(names = "--writable", description = "The snapshot takes writes, which go to chunks of its own.")
        boolean writable;

        @Option(names = "--priority", paramLabel = "N", defaultValue = "0",
                description = "When the store is full, the snapshot of lowest priority (then the oldest) is dropped first.")
        int priority;

        @Override
        void run(DdlinkClient c, PrintWriter out) throws IOException, ControlException {
            JsonNode s = message(c, volume, "snapshot " + snap + (writable ? " writable" : "") + " priority=" + priority);
            try {
                exportSnapshot(c, volume, snap, writable);
            } catch (ControlException | IOException e) {
                message(c, volume, "delete " + snap);
                throw e;
            }
            out.println("snapshot " + snap + " of " + volume + " (id " + s.path("id").asLong() + "), exported "
                    + (writable ? "writable" : "read-only") + " as " + snapshotDevice(volume, snap));
        }
    }

    @Command(name = "delete", description = "Deletes a snapshot and its export; its space comes back in the background.")
    static final class Delete extends Verb {
        @Parameters(index = "0", paramLabel = "VOLUME")
        String volume;

        @Parameters(index = "1", paramLabel = "SNAP")
        String snap;

        @Override
        void run(DdlinkClient c, PrintWriter out) throws IOException, ControlException {
            String device = snapshotDevice(volume, snap);
            boolean hasDevice = c.list().stream().anyMatch(d -> d.name().equals(device));
            if (hasDevice) {
                DeviceInfo d = c.info(Optional.of(device)).getFirst();
                if (d.openCount() > 0) {
                    throw new ControlException("snapshot " + snap + " of " + volume + " is in use (" + d.openCount()
                            + " open on " + device + "); disconnect its clients first");
                }
                if (d.export() != null) {
                    c.unexport(device);
                }
                c.remove(device, false);
            }
            message(c, volume, "delete " + snap);
            out.println("snapshot " + snap + " of " + volume + " deleted");
        }
    }

    @Command(name = "list", description = "Lists a volume's snapshots: time, state, chunks only it holds, chunks shared.")
    static final class ListVerb extends Verb {
        @Parameters(index = "0", paramLabel = "VOLUME")
        String volume;

        @Option(names = "--json", description = "Print the daemon's answer as JSON, for scripts.")
        boolean json;

        @Override
        void run(DdlinkClient c, PrintWriter out) throws IOException, ControlException {
            JsonNode r = message(c, volume, "list");
            if (json) {
                out.println(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(r));
                return;
            }
            long chunk = r.path("chunkSize").asLong();
            if (r.path("snapshots").isEmpty()) {
                out.println("No snapshots");
                return;
            }
            out.printf("%-20s %-19s %-9s %-8s %8s %11s %11s%n", "NAME", "CREATED", "STATE", "MODE", "PRIORITY",
                    "UNIQUE", "SHARED");
            for (JsonNode s : r.path("snapshots")) {
                out.printf("%-20s %-19s %-9s %-8s %8d %11s %11s%n", s.path("name").asText(),
                        TIME.format(Instant.ofEpochMilli(s.path("created").asLong())), s.path("state").asText(),
                        s.path("writable").asBoolean() ? "writable" : "ro", s.path("priority").asInt(),
                        size(s.path("unique").asLong() * chunk), size(s.path("shared").asLong() * chunk));
            }
        }
    }

    @Command(name = "status", description = "Store and metadata use, snapshots, and how widely chunks are shared.")
    static final class Status extends Verb {
        @Parameters(index = "0", paramLabel = "VOLUME")
        String volume;

        @Option(names = "--json", description = "Print the daemon's answer as JSON, for scripts.")
        boolean json;

        @Override
        void run(DdlinkClient c, PrintWriter out) throws IOException, ControlException {
            JsonNode s = message(c, volume, "status");
            if (json) {
                out.println(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(s));
                return;
            }
            long chunk = s.path("chunkSize").asLong();
            out.println("volume:     " + volume + ", " + size(s.path("originBytes").asLong()) + " in " + size(chunk) + " chunks");
            out.println("store:      " + size(s.path("storeChunksUsed").asLong() * chunk) + " of "
                    + size(s.path("storeChunks").asLong() * chunk) + " used (" + percent(s, "storeChunksUsed", "storeChunks") + ")");
            out.println("metadata:   " + s.path("metadataBlocksUsed").asLong() + " of " + s.path("metadataBlocks").asLong()
                    + " btree blocks used (" + percent(s, "metadataBlocksUsed", "metadataBlocks") + "), journal "
                    + size(s.path("journalBlocks").asLong() * 4096));
            out.println("snapshots:  " + s.path("snapshots").asLong() + " live, " + s.path("deleting").asLong()
                    + " being reclaimed, " + s.path("dropped").size() + " dropped");
            for (JsonNode d : s.path("dropped")) {
                out.println("  dropped:  " + d.path("name").asText() + " at "
                        + TIME.format(Instant.ofEpochMilli(d.path("changed").asLong())) + " (store full; priority "
                        + d.path("priority").asInt() + ")");
            }
            out.println("sharing:    " + s.path("exceptions").asLong() + " copied-out chunks");
            s.path("sharing").fields().forEachRemaining(e -> out.printf("  %-9s %d%n",
                    e.getKey() + (e.getKey().equals("1") ? " snap" : " snaps"), e.getValue().asLong()));
            if (!s.path("failure").isNull() && !s.path("failure").isMissingNode()) {
                out.println("FAILED:     " + s.path("failure").asText());
            }
        }

        private static String percent(JsonNode s, String used, String total) {
            long t = s.path(total).asLong();
            return t == 0 ? "0%" : String.format(Locale.ROOT, "%.1f%%", 100.0 * s.path(used).asLong() / t);
        }
    }

    @Command(name = "revert", description = "Makes the volume hold a snapshot's contents again; other snapshots keep theirs.")
    static final class Revert extends Verb {
        @Parameters(index = "0", paramLabel = "VOLUME")
        String volume;

        @Parameters(index = "1", paramLabel = "SNAP")
        String snap;

        @Override
        void run(DdlinkClient c, PrintWriter out) throws IOException, ControlException {
            message(c, volume, "revert " + snap);
            out.println(volume + " reverted to snapshot " + snap);
        }
    }

    @Command(name = "reopen", description = "Opens a failed store again from its last commit, once its cause is fixed.")
    static final class Reopen extends Verb {
        @Parameters(index = "0", paramLabel = "VOLUME")
        String volume;

        @Override
        void run(DdlinkClient c, PrintWriter out) throws IOException, ControlException {
            message(c, volume, "reopen");
            out.println("store of " + volume + " reopened");
        }
    }

    @Command(name = "priority", description = "Sets which snapshots a full store drops first (lowest priority first).")
    static final class Priority extends Verb {
        @Parameters(index = "0", paramLabel = "VOLUME")
        String volume;

        @Parameters(index = "1", paramLabel = "SNAP")
        String snap;

        @Parameters(index = "2", paramLabel = "N")
        int priority;

        @Override
        void run(DdlinkClient c, PrintWriter out) throws IOException, ControlException {
            message(c, volume, "priority " + snap + " " + priority);
            out.println("snapshot " + snap + " of " + volume + ": priority " + priority);
        }
    }

    @Command(name = "delta", description = "Snapshot deltas, the stream replication is made of.",
            subcommands = {DeltaCreate.class, DeltaApply.class})
    static final class Delta implements Runnable {
        @Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public void run() {
            throw new CommandLine.ParameterException(spec.commandLine(), "missing 'create' or 'apply'");
        }
    }

    @Command(name = "create", description = "Writes the chunks that differ between snapshots FROM and TO (all of TO without FROM).")
    static final class DeltaCreate extends Verb {
        @Parameters(index = "0", paramLabel = "VOLUME")
        String volume;

        @Parameters(index = "1..2", arity = "1..2", paramLabel = "[FROM] TO")
        List<String> snaps;

        @Option(names = {"-o", "--output"}, paramLabel = "FILE", description = "Where to write the stream (default: standard output).")
        Path output;

        @Option(names = "--no-compress", description = "Leave the stream uncompressed (default: zstd).")
        boolean noCompress;

        @Override
        void run(DdlinkClient c, PrintWriter out) throws IOException, ControlException {
            Optional<String> from = snaps.size() == 2 ? Optional.of(snaps.get(0)) : Optional.empty();
            String to = snaps.getLast();
            Progress progress = new Progress("delta " + volume + " " + from.map(f -> f + "..").orElse("") + to);
            // The stream goes to FILE.partial and takes FILE's name only when whole, so a refused or
            // broken stream never looks whole and never replaces a file that was there before.
            Path partial = output != null ? output.resolveSibling(output.getFileName() + ".partial") : null;
            OutputStream target = partial != null ? openLocal("write", output, () -> Files.newOutputStream(partial))
                    : root().stdout;
            String where = output != null ? output.toString() : "standard output";
            JsonNode r;
            try (OutputStream counted = new CountingOutput(target, progress, where)) {
                r = c.deltaSend(volume, from, to, !noCompress, counted, n -> { });
                counted.flush();
            } catch (ControlException | IOException e) {
                progress.done();
                if (partial != null) {
                    Files.deleteIfExists(partial);
                }
                throw e;
            }
            progress.done();
            if (partial != null) {
                openLocal("write", output, () -> Files.move(partial, output, StandardCopyOption.REPLACE_EXISTING,
                        StandardCopyOption.ATOMIC_MOVE));
            }
            spec.commandLine().getErr().println("ddsnap: delta " + from.map(f -> f + " -> ").orElse("full ") + to
                    + ": " + r.path("chunks").asLong() + " chunks, " + size(r.path("dataBytes").asLong()) + " of data");
        }
    }

    @Command(name = "apply", description = "Applies a delta stream to VOLUME and creates snapshot TO there, all or nothing.")
    static final class DeltaApply extends Verb {
        @Parameters(index = "0", paramLabel = "VOLUME")
        String volume;

        @Parameters(index = "1", arity = "0..1", paramLabel = "FILE", description = "The stream (default: standard input).")
        Path input;

        @Option(names = "--force", description = "Roll the volume back to snapshot FROM first if it changed since, "
                + "or overwrite a volume with snapshots with a full stream.")
        boolean force;

        @Override
        void run(DdlinkClient c, PrintWriter out) throws IOException, ControlException {
            Progress progress = new Progress("apply " + volume);
            if (input != null) {
                progress.total(openLocal("read", input, () -> Files.size(input)));
            }
            try (InputStream in = input != null ? openLocal("read", input, () -> Files.newInputStream(input))
                    : root().stdin) {
                JsonNode r = c.deltaReceive(volume, force, in, progress::at);
                progress.done();
                String snap = r.path("name").asText();
                exportSnapshot(c, volume, snap, false);
                out.println("snapshot " + snap + " of " + volume + " received (" + r.path("records").asLong()
                        + " records, " + size(r.path("dataBytes").asLong()) + " of data), exported read-only as "
                        + snapshotDevice(volume, snap));
            } finally {
                progress.done();
            }
        }
    }

    /** Opening a local file, which fails on this side, not the daemon's. */
    @FunctionalInterface
    private interface LocalOpen<T> {
        T open() throws IOException;
    }

    /** Opens {@code path}; a failure is a {@link LocalFailure} naming the file and why, as cp does. */
    private static <T> T openLocal(String verb, Path path, LocalOpen<T> open) throws LocalFailure {
        try {
            return open.open();
        } catch (IOException e) {
            String why = switch (e) {
                case java.nio.file.NoSuchFileException x -> "no such file or directory";
                case java.nio.file.AccessDeniedException x -> "permission denied";
                case java.nio.file.FileSystemException x when x.getReason() != null -> x.getReason();
                default -> e.getMessage() != null ? e.getMessage() : e.toString();
            };
            LocalFailure failure = new LocalFailure("cannot " + verb + " " + path + ": " + why);
            failure.initCause(e);
            throw failure;
        }
    }

    /**
     * Counts bytes on their way out, for the progress bar. A write that fails (a full disk, a
     * closed pipe) is this side's problem, reported as such rather than as the daemon's.
     */
    private static final class CountingOutput extends java.io.FilterOutputStream {
        private final Progress progress;
        private final String where;
        private long count;

        CountingOutput(OutputStream out, Progress progress, String where) {
            super(out);
            this.progress = progress;
            this.where = where;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            try {
                out.write(b, off, len);
            } catch (IOException e) {
                throw failed(e);
            }
            count += len;
            progress.at(count);
        }

        @Override
        public void write(int b) throws IOException {
            try {
                out.write(b);
            } catch (IOException e) {
                throw failed(e);
            }
            progress.at(++count);
        }

        @Override
        public void flush() throws IOException {
            try {
                out.flush();
            } catch (IOException e) {
                throw failed(e);
            }
        }

        private LocalFailure failed(IOException e) {
            LocalFailure l = new LocalFailure("cannot write the stream to " + where + " after " + count + " bytes: "
                    + (e.getMessage() != null ? e.getMessage() : e.toString()));
            l.initCause(e);
            return l;
        }
    }
}
