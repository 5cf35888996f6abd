package dev.onestep.pipeline;

import java.util.function.ToDoubleFunction;

/**
 * BFGS minimisation with a forward-difference gradient, following scipy.optimize.minimize(method="BFGS") as
 * Marigold's ensembling calls it (no analytic Jacobian, {@code tol} → gtol on the ∞-norm of the gradient,
 * {@code maxiter} iterations, H₀ = I, the standard inverse-Hessian update, ρ = 1000 when yᵀs = 0).
 *
 * <p>Differences from scipy, stated: the gradient step is h = √ε_f32 · max(1, |x|) (what scipy's
 * approx_derivative uses for float32 parameters, as Marigold passes), and the line search is a backtracking
 * Armijo search (c₁ = 1e-4, halving) started from scipy's first trial step min(1, 1.01·2·Δf/φ'(0)) instead
 * of MINPACK's Wolfe search, so iterates can differ from scipy's in their later digits. As in scipy, a
 * failed line search ends the run and keeps the last accepted point.
 */
public final class Bfgs {
    private Bfgs() {}

    /** √(float32 machine epsilon): the relative finite-difference step for float32 parameters. */
    static final double REL_STEP = Math.sqrt(Math.ulp(1.0f));
    private static final double ARMIJO_C1 = 1e-4;
    private static final int MAX_BACKTRACKS = 60;

    /** The result: the final point, its value, and the number of completed iterations. */
    public record Result(double[] x, double value, int iterations) {}

    public static Result minimize(ToDoubleFunction<double[]> f, double[] x0, double gtol, int maxIter) {
        int n = x0.length;
        double[] x = x0.clone();
        double fx = f.applyAsDouble(x);
        double[] g = gradient(f, x, fx);
        double[][] hInv = identity(n);
        double oldOld = fx + norm2(g) / 2;                  // scipy's initial old_old_fval
        int k = 0;
        while (normInf(g) > gtol && k < maxIter) {
            double[] p = new double[n];
            for (int i = 0; i < n; i++) {
                double s = 0;
                for (int j = 0; j < n; j++) s -= hInv[i][j] * g[j];
                p[i] = s;
            }
            double slope = dot(g, p);
            if (!(slope < 0)) break;                        // not a descent direction: line search would fail
            double alpha = Math.min(1.0, 1.01 * 2 * (fx - oldOld) / slope);
            if (!(alpha > 0)) alpha = 1.0;
            double[] xn = new double[n];
            double fn = Double.NaN;
            boolean accepted = false;
            for (int b = 0; b < MAX_BACKTRACKS; b++, alpha /= 2) {
                for (int i = 0; i < n; i++) xn[i] = x[i] + alpha * p[i];
                fn = f.applyAsDouble(xn);
                if (Double.isFinite(fn) && fn <= fx + ARMIJO_C1 * alpha * slope) {
                    accepted = true;
                    break;
                }
            }
            if (!accepted) break;
            double[] gn = gradient(f, xn, fn);
            double[] s = new double[n], y = new double[n];
            for (int i = 0; i < n; i++) {
                s[i] = xn[i] - x[i];
                y[i] = gn[i] - g[i];
            }
            oldOld = fx;
            x = xn;
            fx = fn;
            g = gn;
            k++;
            if (normInf(g) <= gtol) break;
            double sy = dot(y, s);
            double rho = sy == 0 ? 1000.0 : 1.0 / sy;
            hInv = update(hInv, s, y, rho);
        }
        return new Result(x, fx, k);
    }

    /** H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ. */
    private static double[][] update(double[][] h, double[] s, double[] y, double rho) {
        int n = s.length;
        double[][] a1 = identity(n), a2 = identity(n);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                a1[i][j] -= rho * s[i] * y[j];
                a2[i][j] -= rho * y[i] * s[j];
            }
        double[][] out = mul(a1, mul(h, a2));
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) out[i][j] += rho * s[i] * s[j];
        return out;
    }

    static double[] gradient(ToDoubleFunction<double[]> f, double[] x, double fx) {
        double[] g = new double[x.length];
        double[] xp = x.clone();
        for (int i = 0; i < x.length; i++) {
            double h = REL_STEP * (x[i] >= 0 ? 1 : -1) * Math.max(1.0, Math.abs(x[i]));
            xp[i] = x[i] + h;
            double dx = xp[i] - x[i];                     // the step actually taken, as scipy
            g[i] = (f.applyAsDouble(xp) - fx) / dx;
            xp[i] = x[i];
        }
        return g;
    }

    private static double[][] identity(int n) {
        double[][] m = new double[n][n];
        for (int i = 0; i < n; i++) m[i][i] = 1;
        return m;
    }

    private static double[][] mul(double[][] a, double[][] b) {
        int n = a.length;
        double[][] c = new double[n][n];
        for (int i = 0; i < n; i++)
            for (int k = 0; k < n; k++) {
                double v = a[i][k];
                for (int j = 0; j < n; j++) c[i][j] += v * b[k][j];
            }
        return c;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    private static double norm2(double[] a) { return Math.sqrt(dot(a, a)); }

    private static double normInf(double[] a) {
        double m = 0;
        for (double v : a) m = Math.max(m, Math.abs(v));
        return m;
    }
}
