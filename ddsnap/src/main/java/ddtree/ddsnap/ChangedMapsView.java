package ddtree.ddsnap;

import ddtree.block.Extents;
import ddtree.block.StatusMaps;
import java.io.IOException;
import java.util.List;

/** A ddsnap target (the volume or a snapshot) offering its {@link ChangedMaps} as block-status maps. */
interface ChangedMapsView extends StatusMaps {
    ChangedMaps changedMaps();

    @Override
    default List<String> listMaps(String prefix) {
        return changedMaps().list(prefix);
    }

    @Override
    default boolean hasMap(String name) {
        return changedMaps().has(name);
    }

    @Override
    default void mapExtents(String name, long offset, long length, Extents out) throws IOException {
        changedMaps().extents(name, offset, length, out);
    }
}
