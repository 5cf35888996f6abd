package dev.onestep.pipeline;

/**
 * The normals ensemble of diffusion-e2e-ft (from GeoWizard, {@code ensemble_normals}): members are normalised,
 * the mean direction is built from the per-pixel mean of the spherical angles φ = atan2(y, x) and
 * θ = atan2(‖(x, y)‖, z), and the member with the smallest angular error to it summed over all pixels
 * (cosine clipped to [−0.999, 0.999]) is returned whole. The reference returns no uncertainty; ours is the
 * per-pixel mean angle in degrees between the members and the chosen one (0 where all agree).
 */
public final class NormalEnsemble {
    private NormalEnsemble() {}

    /** Cosine clip of the reference's angle error. */
    static final double COS_CLIP = 0.999;

    /** The chosen member (normalised) [3·h·w], its index, and the uncertainty [h·w] in degrees. */
    public record Result(float[] normals, int chosen, float[] uncertainty) {}

    /** @param members [K][3·h·w] channels-first normal maps */
    public static Result ensemble(float[][] members, int h, int w) {
        int k = members.length, n = h * w;
        if (k < 1) throw new IllegalArgumentException("no members to ensemble");
        float[][] m = new float[k][];
        for (int i = 0; i < k; i++) {
            if (members[i].length != 3 * n) throw new IllegalArgumentException("member of " + members[i].length + " values for [3, " + h + ", " + w + "]");
            m[i] = PostProcess.normalize(members[i].clone(), h, w);
        }
        double[] err = new double[k];
        for (int p = 0; p < n; p++) {
            double phi = 0, theta = 0;
            for (int i = 0; i < k; i++) {
                float x = m[i][p], y = m[i][n + p], z = m[i][2 * n + p];
                phi += Math.atan2(y, x);
                theta += Math.atan2(Math.sqrt(x * x + y * y), z);
            }
            phi /= k;
            theta /= k;
            double mx = Math.sin(theta) * Math.cos(phi), my = Math.sin(theta) * Math.sin(phi), mz = Math.cos(theta);
            double mNorm = Math.sqrt(mx * mx + my * my + mz * mz);
            for (int i = 0; i < k; i++) {
                double cos = cosine(mx, my, mz, mNorm, m[i][p], m[i][n + p], m[i][2 * n + p]);
                err[i] += Math.acos(Math.max(-COS_CLIP, Math.min(COS_CLIP, cos)));
            }
        }
        int best = 0;
        for (int i = 1; i < k; i++) if (err[i] < err[best]) best = i;   // first minimum, as torch.argmin
        float[] unc = new float[n];
        for (int p = 0; p < n; p++) {
            double sum = 0;
            float bx = m[best][p], by = m[best][n + p], bz = m[best][2 * n + p];
            double bn = Math.sqrt((double) bx * bx + (double) by * by + (double) bz * bz);
            for (int i = 0; i < k; i++) {
                double cos = cosine(bx, by, bz, bn, m[i][p], m[i][n + p], m[i][2 * n + p]);
                sum += Math.toDegrees(Math.acos(Math.max(-1, Math.min(1, cos))));
            }
            unc[p] = (float) (sum / k);
        }
        return new Result(m[best], best, unc);
    }

    /** torch.cosine_similarity: a·b / max(‖a‖·‖b‖, 1e-8). */
    private static double cosine(double ax, double ay, double az, double aNorm, double bx, double by, double bz) {
        double bNorm = Math.sqrt(bx * bx + by * by + bz * bz);
        return (ax * bx + ay * by + az * bz) / Math.max(aNorm * bNorm, 1e-8);
    }
}
