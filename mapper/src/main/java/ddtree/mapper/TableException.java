package ddtree.mapper;

/**
 * A refused table, target argument or message. The text names the line, the target, the field and
 * the value at fault, because it travels unchanged to the person who typed the table.
 */
public final class TableException extends Exception {
    private static final long serialVersionUID = 1L;

    public TableException(String message) {
        super(message);
    }
}
