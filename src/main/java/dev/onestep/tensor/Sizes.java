package dev.onestep.tensor;

/**
 * Size arithmetic that cannot wrap, in one place. Sizes computed from untrusted numbers (image headers, configs,
 * --processing-res, .npy and safetensors shapes) are products of ints that can overflow a long; a wrapped product
 * passes a "too large?" check as a small or negative number. {@link #saturatingProduct} is for budgets, where an
 * overflow simply means "more than any limit"; {@link #exactProduct} for sizes that must be exact.
 */
public final class Sizes {
    private Sizes() {}

    /** The product of non-negative factors, or {@link Long#MAX_VALUE} when it does not fit in a long. */
    public static long saturatingProduct(long... factors) {
        long p = 1;
        for (long f : factors) {
            if (f < 0) throw new IllegalArgumentException("negative size factor " + f);
            if (f == 0) return 0;
            if (p > Long.MAX_VALUE / f) p = Long.MAX_VALUE;
            else p *= f;
        }
        return p;
    }

    /**
     * The product of non-negative factors.
     *
     * @throws IllegalArgumentException naming {@code what} when it does not fit in a long
     */
    public static long exactProduct(String what, long... factors) {
        long p = saturatingProduct(factors);
        if (p == Long.MAX_VALUE) throw new IllegalArgumentException(what + " is too large (its size overflows a 64-bit count)");
        return p;
    }
}
