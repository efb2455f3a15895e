package ddtree.mapper;

/** The two forms of target status, as device-mapper has them. */
public enum StatusType {
    /** Health and counters, for people. */
    INFO,
    /** The target's arguments, in the form its type accepts back. */
    TABLE
}
