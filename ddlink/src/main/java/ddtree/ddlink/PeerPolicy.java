package ddtree.ddlink;

import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.util.Objects;

/**
 * Who may talk to the daemon: the user it runs as, and root. Anyone else could create devices on
 * any file the daemon can open, so the socket is mode 0600 and this check backs that up (the
 * file mode is set a moment after bind, and a directory may be shared).
 */
public final class PeerPolicy {
    private final UserPrincipal daemonUser;
    private final UserPrincipal root;

    public PeerPolicy(UserPrincipal daemonUser, UserPrincipal root) {
        this.daemonUser = Objects.requireNonNull(daemonUser, "daemonUser");
        this.root = root;
    }

    /** The policy for this process: its own user (the owner of {@code ownFile}) and root. */
    public static PeerPolicy forOwnerOf(java.nio.file.Path ownFile) throws IOException {
        UserPrincipal self = java.nio.file.Files.getOwner(ownFile);
        UserPrincipalLookupService lookup = FileSystems.getDefault().getUserPrincipalLookupService();
        UserPrincipal root;
        try {
            root = lookup.lookupPrincipalByName("root");
        } catch (IOException e) {
            root = null; // no root entry in the user database: only the daemon's own user is let in
        }
        return new PeerPolicy(self, root);
    }

    /** Null if {@code peer} may connect; otherwise why not, for the log and the refusal frame. */
    public String refusal(UserPrincipal peer) {
        if (peer == null) {
            return "the peer's user is unknown (no SO_PEERCRED)";
        }
        if (peer.equals(daemonUser) || peer.equals(root)) {
            return null;
        }
        return "user " + peer.getName() + " may not control this daemon (only " + daemonUser.getName()
                + (root != null && !root.equals(daemonUser) ? " and root" : "") + ")";
    }
}
