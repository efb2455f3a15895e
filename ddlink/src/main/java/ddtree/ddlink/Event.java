package ddtree.ddlink;

/**
 * Something that happened to a device, sent to subscribers.
 *
 * @param event {@code created}, {@code removed}, {@code suspended}, {@code resumed},
 *     {@code reloaded}, {@code cleared}, {@code renamed}, {@code exported}, {@code unexported}, or
 *     {@code target} (a target's own news: a flakey device going down, an nbd member reconnecting)
 * @param device the device's name (its new name for {@code renamed})
 * @param detail more for people: the old name, the export name, the target's text; may be empty
 */
public record Event(String event, String device, String detail) {
    public Event {
        detail = detail == null ? "" : detail;
    }
}
