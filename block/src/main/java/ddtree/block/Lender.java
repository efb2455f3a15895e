package ddtree.block;

/**
 * A device that can answer a READ by lending its own memory instead of copying into the bio's
 * buffer (see {@link Bio#allowLending()}). What it lends stays mapped until given back, even if
 * the device is closed meanwhile; its contents may change under the borrower, as a concurrent
 * write or discard may change any read's result.
 */
public interface Lender {
    /** Ends one loan; the memory may be unmapped once every loan has ended. */
    void giveBack();
}
