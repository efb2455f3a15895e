package ddtree.ddsetup;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.SerializationFeature;
import ddtree.ddlink.Json;
import java.io.PrintWriter;

/** Where a verb's answer goes: lines for people, or one JSON document with --json. */
final class Printer {
    private final PrintWriter out;
    private final boolean json;

    Printer(PrintWriter out, boolean json) {
        this.out = out;
        this.json = json;
    }

    boolean json() {
        return json;
    }

    /** Prints {@code value} as JSON; an empty object for verbs that answer nothing. */
    void json(Object value) {
        try {
            out.println(Json.MAPPER.writer().with(SerializationFeature.INDENT_OUTPUT)
                    .writeValueAsString(value == null ? Json.object() : value));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot print the answer as JSON: " + e.getOriginalMessage(), e);
        }
    }

    void line(String text) {
        out.println(text);
    }

    /** JSON of {@code value} with --json, otherwise the lines {@code human} prints. */
    void either(Object value, Runnable human) {
        if (json) {
            json(value);
        } else {
            human.run();
        }
    }

    void flush() {
        out.flush();
    }
}
