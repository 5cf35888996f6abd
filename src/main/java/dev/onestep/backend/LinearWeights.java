package dev.onestep.backend;

/** Linear-layer weights prepared by a backend ({@link Backend#prepareLinear}). */
public interface LinearWeights extends AutoCloseable {
    int inFeatures();

    int outFeatures();

    boolean hasBias();

    @Override
    void close();
}
