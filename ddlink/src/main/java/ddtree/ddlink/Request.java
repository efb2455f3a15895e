package ddtree.ddlink;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * One decoded request frame: {@code {"id": 7, "verb": "create", "name": "a", "table": "..."}}.
 * Its accessors refuse a missing or mistyped field with a message naming the verb, the field
 * and the value, so a client with a typo learns exactly what to fix.
 */
public final class Request {
    private final ObjectNode frame;
    private final String verb;

    private Request(ObjectNode frame, String verb) {
        this.frame = frame;
        this.verb = verb;
    }

    /** The id to echo: the request's own when it is a number, otherwise null. */
    public static JsonNode idOf(ObjectNode frame) {
        JsonNode id = frame.get("id");
        return id != null && id.isIntegralNumber() ? id : null;
    }

    public static Request of(ObjectNode frame) throws ControlException {
        JsonNode id = frame.get("id");
        if (id == null) {
            throw new ControlException("request: missing field 'id'");
        }
        if (!id.isIntegralNumber()) {
            throw new ControlException("request: field 'id' must be a whole number, not " + id);
        }
        JsonNode verb = frame.get("verb");
        if (verb == null) {
            throw new ControlException("request: missing field 'verb'");
        }
        if (!verb.isTextual()) {
            throw new ControlException("request: field 'verb' must be a string, not " + verb);
        }
        if (!Protocol.VERBS.contains(verb.asText())) {
            throw new ControlException("unknown verb '" + verb.asText() + "' (verbs: " + String.join(", ", Protocol.VERBS) + ")");
        }
        return new Request(frame, verb.asText());
    }

    public String verb() {
        return verb;
    }

    /** Refuses fields this verb does not take, so a misspelt optional field is not ignored. */
    public void allow(String... fields) throws ControlException {
        Set<String> known = Set.of(fields);
        List<String> unknown = new ArrayList<>();
        for (Iterator<String> it = frame.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!f.equals("id") && !f.equals("verb") && !known.contains(f)) {
                unknown.add(f);
            }
        }
        if (!unknown.isEmpty()) {
            throw new ControlException(verb + ": unknown field '" + unknown.getFirst() + "'"
                    + (fields.length == 0 ? " (" + verb + " takes no fields)" : " (" + verb + " takes " + String.join(", ", fields) + ")"));
        }
    }

    public String string(String field) throws ControlException {
        return optionalString(field).orElseThrow(() -> new ControlException(verb + ": missing field '" + field + "'"));
    }

    public Optional<String> optionalString(String field) throws ControlException {
        JsonNode v = frame.get(field);
        if (v == null || v.isNull()) {
            return Optional.empty();
        }
        if (!v.isTextual()) {
            throw new ControlException(verb + ": field '" + field + "' must be a string, not " + v);
        }
        return Optional.of(v.asText());
    }

    public boolean bool(String field) throws ControlException {
        JsonNode v = frame.get(field);
        if (v == null || v.isNull()) {
            return false;
        }
        if (!v.isBoolean()) {
            throw new ControlException(verb + ": field '" + field + "' must be true or false, not " + v);
        }
        return v.asBoolean();
    }

    public long number(String field) throws ControlException {
        JsonNode v = frame.get(field);
        if (v == null || v.isNull()) {
            throw new ControlException(verb + ": missing field '" + field + "'");
        }
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            throw new ControlException(verb + ": field '" + field + "' must be a whole number, not " + v);
        }
        return v.asLong();
    }
}
