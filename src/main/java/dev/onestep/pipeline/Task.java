package dev.onestep.pipeline;

/** What the one-step network was fine-tuned to predict. */
public enum Task {
    DEPTH, NORMALS;

    public String suffix() { return this == DEPTH ? "depth" : "normals"; }
}
