package ddtree.ddsetup;

import ddtree.ddlink.Protocol;
import ddtree.ddlink.cli.ControlCli;
import picocli.CommandLine.IVersionProvider;

/** The version Maven stamped into the jar. */
public final class Version implements IVersionProvider {
    @Override
    public String[] getVersion() {
        return new String[] {"ddsetup " + version() + " (ddlink protocol " + Protocol.VERSION + ")"};
    }

    static String version() {
        return ControlCli.version(Version.class);
    }
}
