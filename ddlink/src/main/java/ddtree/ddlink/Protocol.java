package ddtree.ddlink;

import java.util.List;

/** Names and numbers both ends agree on; docs/ddlink.md describes each. */
public final class Protocol {
    private Protocol() {}

    /** Bumped when a verb's meaning changes incompatibly; new verbs and fields do not bump it. */
    public static final int VERSION = 1;
    /** What the hello frames carry in their {@code hello} field. */
    public static final String MAGIC = "ddlink";

    public static final List<String> VERBS = List.of("version", "targets", "create", "remove", "list", "table",
            "status", "info", "deps", "suspend", "resume", "reload", "clear", "rename", "message", "export",
            "unexport", "subscribe", "delta-send", "delta-receive");
}
