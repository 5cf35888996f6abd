package dev.onestep;

/** What a checkpoint predicts: depth or surface normals. */
public enum Task {
    DEPTH, NORMALS;

    public String suffix() { return this == DEPTH ? "depth" : "normals"; }
}
