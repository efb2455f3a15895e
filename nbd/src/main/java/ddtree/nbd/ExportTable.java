package ddtree.nbd;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * A mutable {@link ExportCatalog}. The default export (asked for by the empty name) is the one
 * named by {@link #setDefaultName}, or the only export when there is just one.
 */
public final class ExportTable implements ExportCatalog {
    private final ConcurrentSkipListMap<String, Export> exports = new ConcurrentSkipListMap<>();
    private volatile String defaultName = "";

    /** Adds or replaces the export of that name. */
    public void put(Export export) {
        exports.put(export.name(), export);
    }

    /** Removes the export of that name; connections already open keep their device. */
    public Optional<Export> remove(String name) {
        return Optional.ofNullable(exports.remove(name));
    }

    public void setDefaultName(String name) {
        this.defaultName = name;
    }

    @Override
    public Optional<Export> find(String name) {
        if (name.isEmpty()) {
            if (!defaultName.isEmpty()) {
                return Optional.ofNullable(exports.get(defaultName));
            }
            return exports.size() == 1 ? Optional.of(exports.firstEntry().getValue()) : Optional.empty();
        }
        return Optional.ofNullable(exports.get(name));
    }

    @Override
    public List<Export> list() {
        return List.copyOf(exports.values());
    }
}
