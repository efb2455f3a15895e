package ddtree.ddlink;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.attribute.UserPrincipal;
import org.junit.jupiter.api.Test;

/** The SO_PEERCRED decision: the daemon's own user and root get in, nobody else. */
class PeerPolicyTest {
    record User(String getName) implements UserPrincipal {}

    final User daemon = new User("ddtree");
    final User root = new User("root");
    final PeerPolicy policy = new PeerPolicy(daemon, root);

    @Test
    void theDaemonsUserAndRootAreLetIn() {
        assertThat(policy.refusal(daemon)).isNull();
        assertThat(policy.refusal(root)).isNull();
    }

    @Test
    void anyoneElseIsRefusedByName() {
        assertThat(policy.refusal(new User("nobody"))).isEqualTo("user nobody may not control this daemon (only ddtree and root)");
        assertThat(policy.refusal(null)).isEqualTo("the peer's user is unknown (no SO_PEERCRED)");
    }

    @Test
    void aDaemonRunningAsRootNamesRootOnce() {
        PeerPolicy asRoot = new PeerPolicy(root, root);
        assertThat(asRoot.refusal(new User("nobody"))).isEqualTo("user nobody may not control this daemon (only root)");
    }
}
