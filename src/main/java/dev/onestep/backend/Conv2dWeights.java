package dev.onestep.backend;

/** Convolution weights prepared by a backend ({@link Backend#prepareConv2d}). */
public interface Conv2dWeights extends AutoCloseable {
    int outChannels();

    int inChannels();

    int kernelH();

    int kernelW();

    boolean hasBias();

    @Override
    void close();
}
