package dev.onestep.io;

import dev.onestep.tensor.DType;

import java.nio.file.Path;
import java.util.Arrays;

/** A tensor's entry in a safetensors header: dtype, shape, the file holding it and its byte range there (absolute). */
public record TensorInfo(String name, DType dtype, int[] shape, Path file, long offset, long length) {
    public long numel() { return dev.onestep.tensor.Tensor.numel(shape); }

    @Override
    public String toString() { return name + " " + dtype + Arrays.toString(shape); }
}
