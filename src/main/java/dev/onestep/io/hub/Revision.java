package dev.onestep.io.hub;

import java.util.regex.Pattern;

/**
 * A revision of a hub repository as huggingface_hub accepts it: a branch or tag name ("main", "v1.0",
 * "refs/pr/1" for a pull request), cached as refs/NAME and resolved to a commit by the Hub API, or a full
 * 40-hex commit hash, cached as snapshots/COMMIT and used directly. An abbreviated hash is refused: offline,
 * huggingface_hub (and this cache) can only find a commit by its full name.
 */
public record Revision(String name) {
    /** The revision used when none is given. */
    public static final String DEFAULT = "main";
    /** huggingface_hub's REGEX_COMMIT_HASH. */
    private static final Pattern COMMIT = Pattern.compile("[0-9a-f]{40}");
    /** 7–39 hex digits mixing digits and letters: what `git log --oneline` prints (a date tag, all digits, is a name). */
    private static final Pattern SHORT = Pattern.compile("(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{7,39}");

    /**
     * The revision {@code name} of {@code repo} (null or blank = main).
     *
     * @throws IllegalArgumentException for an abbreviated commit hash or a name that is no git ref
     */
    public static Revision of(String repo, String name) {
        if (name == null || name.isBlank()) return new Revision(DEFAULT);
        String n = name.strip();
        if (SHORT.matcher(n).matches())
            throw new IllegalArgumentException("revision '" + n + "' of " + repo + " looks like an abbreviated commit hash; "
                    + "give the full 40-character commit hash (huggingface_hub needs it to find the snapshot offline) or a branch or tag name");
        if (n.startsWith("/") || n.endsWith("/") || n.contains("//") || n.contains("\\") || n.contains("..")
                || ("/" + n + "/").contains("/./") || n.chars().anyMatch(c -> c < 0x20 || c == 0x7f))
            throw new IllegalArgumentException("revision '" + n + "' of " + repo + " is not a branch, tag or commit name");
        return new Revision(n);
    }

    /** Whether this is a full commit hash (used as is: snapshots/COMMIT, no ref). */
    public boolean isCommit() { return COMMIT.matcher(name).matches(); }

    /** Whether this is the default branch. */
    public boolean isDefault() { return name.equals(DEFAULT); }

    @Override
    public String toString() { return name; }
}
