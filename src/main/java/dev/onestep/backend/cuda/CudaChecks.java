package dev.onestep.backend.cuda;

import dev.onestep.backend.OpChecks;
import dev.onestep.tensor.DType;
import dev.onestep.tensor.Tensor;

/** Argument checks for the CUDA backend: the shared shape checks of {@link OpChecks} plus the device-tensor check. */
final class CudaChecks extends OpChecks {
    private CudaChecks() {}

    /** An open device tensor of the given dtype. */
    static Tensor device(String op, String name, Tensor t, DType dtype) {
        if (t == null) throw new IllegalArgumentException(op + ": " + name + " is null");
        require(t.location() == Tensor.Location.DEVICE && t.dtype() == dtype && !t.isClosed(), op,
                name + " must be an open CUDA " + dtype + " tensor (from this backend), got", t);
        return t;
    }
}
