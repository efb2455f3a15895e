package ddtree.daemon;

import ddtree.block.device.FileDevice;
import ddtree.mapper.TableException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The files (and block devices) that tables name as lower devices. Each is opened once however
 * many targets use it, counted, and closed (so flushed) when the last target gives it back. Two
 * spellings of the same path share one open file.
 *
 * <p>Not thread-safe: the registry calls it under its own lock.
 */
final class LowerFiles implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(LowerFiles.class);

    private record Open(FileDevice device, int[] refs) {}

    private final Map<Path, Open> open = new HashMap<>();

    /** The path a table's argument means: absolute and normalized, relative to the daemon's directory. */
    static Path resolve(String path) throws TableException {
        try {
            return Path.of(path).toAbsolutePath().normalize();
        } catch (InvalidPathException e) {
            throw new TableException("bad path '" + path + "': " + e.getReason());
        }
    }

    /** Opens (or shares) the file at {@code path}; it must exist. */
    FileDevice acquire(String path) throws TableException {
        Path p = resolve(path);
        Open o = open.get(p);
        if (o == null) {
            if (!Files.exists(p)) {
                throw new TableException("file " + p + " does not exist");
            }
            if (Files.isDirectory(p)) {
                throw new TableException(p + " is a directory, not a file or block device");
            }
            FileDevice d;
            try {
                d = FileDevice.open(p.toString(), p, 0, false);
            } catch (IOException | RuntimeException e) {
                throw new TableException("cannot open " + p + ": " + (e.getMessage() != null ? e.getMessage() : e));
            }
            o = new Open(d, new int[1]);
            open.put(p, o);
        }
        o.refs[0]++;
        return o.device;
    }

    /** Gives back one reference; the last one closes the file. */
    void release(FileDevice device) {
        Open o = open.get(device.path());
        if (o == null || o.device != device) {
            return;
        }
        if (--o.refs[0] == 0) {
            open.remove(device.path());
            closeQuietly(device);
        }
    }

    /** Files open now. */
    int size() {
        return open.size();
    }

    /** Closes whatever is still open (a stop after devices were closed leaves nothing here). */
    @Override
    public void close() {
        for (Open o : open.values()) {
            closeQuietly(o.device);
        }
        open.clear();
    }

    private static void closeQuietly(FileDevice d) {
        try {
            d.close();
        } catch (IOException e) {
            LOG.error("closing {}: {}", d.path(), e.getMessage());
        }
    }
}
