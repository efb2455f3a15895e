package ddtree.nbd.client;

/** Where an {@link NbdClientDevice} stands with its server. */
public enum ConnectionState {
    /** Requests go to the server. */
    CONNECTED,
    /** The connection dropped; requests wait while the client reconnects. */
    RECONNECTING,
    /** The export came back different (size, limits or capabilities); requests fail with EIO. */
    FAILED,
    /** Closed by its owner; requests fail with ESHUTDOWN. */
    CLOSED
}
