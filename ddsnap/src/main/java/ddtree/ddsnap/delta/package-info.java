/**
 * Snapshot delta streams: the extents that differ between two snapshots of a volume (or all of one
 * snapshot), as a versioned stream with per-record checksums, zstd-compressed by default.
 * {@link ddtree.ddsnap.delta.DeltaWriter} writes one, {@link ddtree.ddsnap.delta.DeltaReader}
 * reads and checks one. The byte layout is the contract in {@code docs/ddsnap-delta.md}.
 */
package ddtree.ddsnap.delta;
