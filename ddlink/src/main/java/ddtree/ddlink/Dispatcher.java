package ddtree.ddlink;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Objects;

/** Turns a decoded request into one {@link ControlHandler} call and its result into JSON. */
final class Dispatcher {
    private final ControlHandler handler;

    Dispatcher(ControlHandler handler) {
        this.handler = Objects.requireNonNull(handler, "handler");
    }

    /** The reply's {@code result}; {@code subscribe} is the server's own and never comes here. */
    JsonNode dispatch(Request r) throws ControlException {
        Object result = switch (r.verb()) {
            case "version" -> {
                r.allow();
                yield handler.version();
            }
            case "targets" -> {
                r.allow();
                yield handler.targets();
            }
            case "create" -> {
                r.allow("name", "table");
                yield handler.create(r.string("name"), r.string("table"));
            }
            case "remove" -> {
                r.allow("name", "force");
                handler.remove(r.string("name"), r.bool("force"));
                yield Json.object();
            }
            case "list" -> {
                r.allow();
                yield handler.list();
            }
            case "table" -> {
                r.allow("name");
                yield handler.table(r.optionalString("name"));
            }
            case "status" -> {
                r.allow("name");
                yield handler.status(r.optionalString("name"));
            }
            case "info", "deps" -> {
                r.allow("name");
                yield handler.info(r.optionalString("name"));
            }
            case "suspend" -> {
                r.allow("name");
                yield handler.suspend(r.string("name"));
            }
            case "resume" -> {
                r.allow("name");
                yield handler.resume(r.string("name"));
            }
            case "reload" -> {
                r.allow("name", "table");
                yield handler.reload(r.string("name"), r.string("table"));
            }
            case "clear" -> {
                r.allow("name");
                yield handler.clear(r.string("name"));
            }
            case "rename" -> {
                r.allow("name", "newName");
                yield handler.rename(r.string("name"), r.string("newName"));
            }
            case "message" -> {
                r.allow("name", "sector", "text");
                String reply = handler.message(r.string("name"), r.number("sector"), r.string("text"));
                yield Json.object().put("reply", reply);
            }
            case "export" -> {
                r.allow("name", "exportName", "readOnly");
                yield handler.export(r.string("name"), r.optionalString("exportName"), r.bool("readOnly"));
            }
            case "unexport" -> {
                r.allow("name");
                handler.unexport(r.string("name"));
                yield Json.object();
            }
            default -> throw new ControlException("unknown verb '" + r.verb() + "'");
        };
        return Json.tree(result);
    }
}
