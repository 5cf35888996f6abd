package dev.onestep.io;

import dev.onestep.tensor.Tensor;

import java.util.Set;

/**
 * Named tensors of one model component (a single safetensors file or a sharded set), already validated.
 * Tensors are zero-copy host views over the memory-mapped files; they stay valid until {@link #close()}.
 */
public interface WeightSource extends AutoCloseable {

    /** What the weights were read from (a file or an index path), for error messages. */
    String description();

    /** Every tensor name, sorted. */
    Set<String> keys();

    /** Dtype, shape and location of a tensor, or null when absent. */
    TensorInfo info(String name);

    /** A host view of the named tensor in its stored dtype; throws {@link WeightsException} when absent. */
    Tensor tensor(String name);

    /** Unmaps the files; views handed out earlier become invalid. */
    @Override
    void close();
}
