package ddtree.block;

/**
 * One step of a bio's completion. Steps are pushed as a bio travels down a stack and run in
 * reverse order when the bottom device completes it, like end_io in device-mapper.
 */
@FunctionalInterface
public interface BioCompletion {
    /**
     * Called when the layer below has finished with {@code bio}; {@link Bio#status()} tells how.
     *
     * @param state the value pushed with this step, so one completion object can serve many bios
     *     without allocating per request
     * @return true to let completion continue to the next step up; false if this step has taken
     *     the bio over (it will call {@link Bio#complete(int)} again later)
     */
    boolean bioDone(Bio bio, long state);

    /**
     * Whether this step may look at a READ's data. Pushing such a step withdraws the permission to
     * lend ({@link Bio#allowLending()}), since lent data is not in the buffer. Steps that only
     * count or signal say false.
     */
    default boolean readsData() {
        return true;
    }

    /** A step that never looks at the data, so reads below it may still be lent. */
    static BioCompletion blind(BioCompletion step) {
        return new BioCompletion() {
            @Override
            public boolean bioDone(Bio bio, long state) {
                return step.bioDone(bio, state);
            }

            @Override
            public boolean readsData() {
                return false;
            }
        };
    }
}
