package ddtree.nbd;

import java.util.List;
import java.util.Optional;

/** The exports a server offers; looked up at each handshake, so it may change while serving. */
public interface ExportCatalog {
    /** The export of that name; the empty name asks for the default export. */
    Optional<Export> find(String name);

    /** Every export, in a stable order, for {@code NBD_OPT_LIST}. */
    List<Export> list();
}
