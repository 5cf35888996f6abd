package dev.onestep.backend.cuda;

/**
 * A failed CUDA driver, cuBLAS or cuDNN call. The message names the call and the library's error name and text
 * (e.g. {@code cuMemAlloc(1073741824 bytes) failed: CUDA_ERROR_OUT_OF_MEMORY (out of memory)}).
 */
public class CudaException extends RuntimeException {
    private final int status;

    public CudaException(String message, int status) {
        super(message);
        this.status = status;
    }

    public CudaException(String message, int status, Throwable cause) {
        super(message, cause);
        this.status = status;
    }

    /** The library's status code (CUresult, cublasStatus_t or cudnnStatus_t), or -1 when unknown. */
    public int status() { return status; }
}
