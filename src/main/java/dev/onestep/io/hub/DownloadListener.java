package dev.onestep.io.hub;

/** Progress of a model download; every method has an empty default. Called from the downloading thread. */
public interface DownloadListener {
    DownloadListener NONE = new DownloadListener() {};

    /** A download of {@code files} files ({@code bytes} in all, −1 if unknown) from {@code repo} begins. */
    default void downloadStarted(String repo, int files, long bytes) {}

    /** {@code done} of {@code total} bytes (−1 if unknown) of {@code file} are on disk (resumed bytes included). */
    default void fileProgress(String file, long done, long total) {}

    /** {@code file} is complete and verified. */
    default void fileDone(String file, long bytes) {}

    /** A revision that was asked for ({@code repo}@{@code revision}) is the snapshot of {@code commit}. */
    default void revisionResolved(String repo, String revision, String commit) {}

    /** A notice worth showing (a resumed or retried transfer). */
    default void downloadNote(String message) {}
}
