package ddtree.daemon;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Optional;

/**
 * The devices and exports a daemon keeps across restarts, in one JSON file in the state
 * directory. A save writes a temporary file, fsyncs it, renames it over the old one and fsyncs
 * the directory, so after a crash at any point the file holds either the old state or the new
 * one, never half of either.
 */
final class StateFile {
    static final String NAME = "devices.json";
    static final int FORMAT = 1;

    /** One device: its live table, and the ddtree devices it stacks on (for the restore order). */
    record Device(String name, List<String> table, List<String> stacksOn) {
        Device {
            table = List.copyOf(table);
            stacksOn = List.copyOf(stacksOn);
        }
    }

    record ExportEntry(String device, String export, boolean readOnly) {}

    record State(int format, List<Device> devices, List<ExportEntry> exports) {
        State {
            devices = List.copyOf(devices);
            exports = List.copyOf(exports);
        }
    }

    private static final ObjectMapper MAPPER = new ObjectMapper()
            .setSerializationInclusion(JsonInclude.Include.NON_NULL)
            .enable(SerializationFeature.INDENT_OUTPUT)
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    private final Path file;

    StateFile(Path stateDir) {
        this.file = stateDir.resolve(NAME);
    }

    Path path() {
        return file;
    }

    /** The saved state, or empty on a first start. A leftover temporary file is ignored: it was never renamed in. */
    Optional<State> load() throws IOException {
        if (!Files.exists(file)) {
            return Optional.empty();
        }
        State s;
        try {
            s = MAPPER.readValue(file.toFile(), State.class);
        } catch (IOException e) {
            throw new IOException("cannot read " + file + ": " + e.getMessage(), e);
        }
        if (s.format() != FORMAT) {
            throw new IOException("cannot read " + file + ": format " + s.format() + " is not " + FORMAT);
        }
        return Optional.of(s);
    }

    void save(State state) throws IOException {
        byte[] bytes = MAPPER.writeValueAsBytes(state);
        Path tmp = file.resolveSibling(NAME + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer buf = ByteBuffer.wrap(bytes);
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
            ch.force(true);
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        // The rename is durable only once the directory entry is.
        try (FileChannel dir = FileChannel.open(file.getParent(), StandardOpenOption.READ)) {
            dir.force(true);
        }
    }
}
