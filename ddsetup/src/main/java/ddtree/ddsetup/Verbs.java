package ddtree.ddsetup;

import ddtree.ddlink.DeviceInfo;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** The verbs, one small command each; each makes one call through {@link Ddsetup#call}. */
final class Verbs {
    private Verbs() {}

    /** What every verb shares: the top command (options, connection) and its own spec (output streams). */
    abstract static class Verb implements Callable<Integer> {
        @ParentCommand
        Ddsetup top;

        @Spec
        CommandSpec spec;

        int call(Ddsetup.Call call) {
            return top.call(spec.commandLine(), call);
        }
    }

    @Command(name = "create", description = {"Creates a device from a table.",
        "The table comes from --table, from FILE, or from standard input."})
    static final class Create extends Verb {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Parameters(index = "1", arity = "0..1", paramLabel = "FILE", description = "A file holding the table ('-': standard input).")
        String file;

        @Option(names = "--table", paramLabel = "TABLE", description = "The table itself; '\\n' separates lines.")
        String table;

        @Override
        public Integer call() {
            String text = TableSource.read(spec.commandLine(), table, file, top.stdin);
            return call((c, out) -> {
                DeviceInfo d = c.create(name, text);
                out.either(d, () -> {});
            });
        }
    }

    @Command(name = "remove", description = "Removes devices; one that is open or stacked on needs --force.")
    static final class Remove extends Verb {
        @Parameters(arity = "1..*", paramLabel = "NAME")
        List<String> names;

        @Option(names = {"-f", "--force"}, description = "Remove even if NBD clients have it open or devices stack on it.")
        boolean force;

        @Override
        public Integer call() {
            return call((c, out) -> {
                for (String n : names) {
                    c.remove(n, force);
                }
                out.either(null, () -> {});
            });
        }
    }

    @Command(name = "ls", description = "Lists the devices with their sizes; --tree shows what stacks on what.")
    static final class Ls extends Verb {
        @Option(names = "--tree", description = "Show each device above the devices and files it stacks on.")
        boolean tree;

        @Override
        public Integer call() {
            return call((c, out) -> {
                List<DeviceInfo> all = c.list();
                out.either(all, () -> (tree ? Human.tree(all) : Human.ls(all)).forEach(out::line));
            });
        }
    }

    @Command(name = "table", description = "Prints the live table of one device or all; 'create' takes it back unchanged.")
    static final class Table extends Verb {
        @Parameters(arity = "0..1", paramLabel = "NAME")
        String name;

        @Override
        public Integer call() {
            return call((c, out) -> {
                var t = c.table(Optional.ofNullable(name));
                out.either(t, () -> Human.lines(t, name != null).forEach(out::line));
            });
        }
    }

    @Command(name = "status", description = "Prints the targets' status of one device or all.")
    static final class Status extends Verb {
        @Parameters(arity = "0..1", paramLabel = "NAME")
        String name;

        @Override
        public Integer call() {
            return call((c, out) -> {
                var s = c.status(Optional.ofNullable(name));
                out.either(s, () -> Human.lines(s, name != null).forEach(out::line));
            });
        }
    }

    @Command(name = "info", description = "Prints state, tables present, open count and targets of one device or all.")
    static final class Info extends Verb {
        @Parameters(arity = "0..1", paramLabel = "NAME")
        String name;

        @Override
        public Integer call() {
            return call((c, out) -> {
                var i = c.info(Optional.ofNullable(name));
                out.either(i, () -> Human.info(i).forEach(out::line));
            });
        }
    }

    @Command(name = "deps", description = "Prints the devices and files one device or each device stacks on.")
    static final class Deps extends Verb {
        @Parameters(arity = "0..1", paramLabel = "NAME")
        String name;

        @Override
        public Integer call() {
            return call((c, out) -> {
                var d = c.deps(Optional.ofNullable(name));
                out.either(d, () -> Human.deps(d, name != null).forEach(out::line));
            });
        }
    }

    @Command(name = "suspend", description = "Finishes the I/O in flight and holds new I/O until resume.")
    static final class Suspend extends Verb {
        @Parameters(paramLabel = "NAME")
        String name;

        @Override
        public Integer call() {
            return call((c, out) -> out.either(c.suspend(name), () -> {}));
        }
    }

    @Command(name = "resume", description = "Swaps in the table 'reload' loaded, if any, and releases held I/O.")
    static final class Resume extends Verb {
        @Parameters(paramLabel = "NAME")
        String name;

        @Override
        public Integer call() {
            return call((c, out) -> out.either(c.resume(name), () -> {}));
        }
    }

    @Command(name = "reload", description = {"Loads an inactive table that 'resume' swaps in atomically.",
        "The table comes from --table, from FILE, or from standard input."})
    static final class Reload extends Verb {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Parameters(index = "1", arity = "0..1", paramLabel = "FILE", description = "A file holding the table ('-': standard input).")
        String file;

        @Option(names = "--table", paramLabel = "TABLE", description = "The table itself; '\\n' separates lines.")
        String table;

        @Override
        public Integer call() {
            String text = TableSource.read(spec.commandLine(), table, file, top.stdin);
            return call((c, out) -> out.either(c.reload(name, text), () -> {}));
        }
    }

    @Command(name = "clear", description = "Drops the inactive table a 'reload' loaded.")
    static final class Clear extends Verb {
        @Parameters(paramLabel = "NAME")
        String name;

        @Override
        public Integer call() {
            return call((c, out) -> out.either(c.clear(name), () -> {}));
        }
    }

    @Command(name = "rename", description = "Renames a device; its export keeps its name.")
    static final class Rename extends Verb {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Parameters(index = "1", paramLabel = "NEWNAME")
        String newName;

        @Override
        public Integer call() {
            return call((c, out) -> out.either(c.rename(name, newName), () -> {}));
        }
    }

    @Command(name = "message", description = "Sends a message to the target at SECTOR (e.g. flakey's 'down').")
    static final class Message extends Verb {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Parameters(index = "1", paramLabel = "SECTOR")
        long sector;

        @Parameters(index = "2..*", arity = "1..*", paramLabel = "TEXT")
        List<String> text;

        @Override
        public Integer call() {
            return call((c, out) -> {
                String reply = c.message(name, sector, String.join(" ", text));
                out.either(java.util.Map.of("reply", reply), () -> {
                    if (!reply.isEmpty()) {
                        out.line(reply);
                    }
                });
            });
        }
    }

    @Command(name = "targets", description = "Lists the target types the daemon can build.")
    static final class Targets extends Verb {
        @Override
        public Integer call() {
            return call((c, out) -> {
                var t = c.targets();
                out.either(t, () -> Human.targets(t).forEach(out::line));
            });
        }
    }

    @Command(name = "version", description = "Prints ddsetup's version and the daemon's.")
    static final class VersionVerb extends Verb {
        @Override
        public Integer call() {
            return call((c, out) -> {
                var v = c.version();
                out.either(v, () -> {
                    out.line(String.format("%-19s%s", "Library version:", "ddsetup " + Version.version()
                            + " (ddlink protocol " + ddtree.ddlink.Protocol.VERSION + ")"));
                    out.line(String.format("%-19s%s", "Driver version:", "ddtree " + v.daemon()
                            + " (ddlink protocol " + v.protocol() + ")"));
                });
            });
        }
    }

    @Command(name = "export", description = "Exports a device over NBD, under its own name unless --as gives another.")
    static final class Export extends Verb {
        @Parameters(paramLabel = "NAME")
        String name;

        @Option(names = "--read-only", description = "Refuse writes, trims and zeroes with EPERM.")
        boolean readOnly;

        @Option(names = "--as", paramLabel = "EXPORTNAME", description = "The name NBD clients ask for.")
        String as;

        @Override
        public Integer call() {
            return call((c, out) -> out.either(c.export(name, Optional.ofNullable(as), readOnly), () -> {}));
        }
    }

    @Command(name = "unexport", description = "Stops exporting a device; connected clients keep it until they disconnect.")
    static final class Unexport extends Verb {
        @Parameters(paramLabel = "NAME")
        String name;

        @Override
        public Integer call() {
            return call((c, out) -> {
                c.unexport(name);
                out.either(null, () -> {});
            });
        }
    }
}
