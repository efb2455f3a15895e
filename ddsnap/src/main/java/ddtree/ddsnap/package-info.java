/**
 * ddsnap on top of the snapshot store: the {@code ddsnap-origin} and {@code ddsnap-snapshot}
 * targets, snapshot delta streams, and the {@code ddsnap} command line.
 */
package ddtree.ddsnap;
