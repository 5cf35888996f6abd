// A fake libcudnn.so.9: the legacy convolution API subset OneStep binds (backend/cuda/Cudnn.java), on the CPU.
// Prototypes and enum values follow cudnn_graph.h / cudnn_cnn.h of cuDNN 9 (not on this machine; written out from
// the documented API). It checks what cuDNN checks for these calls (descriptor kinds, shapes, data types, the
// output descriptor against cudnnGetConvolution2dForwardOutputDim, workspace size) and imitates two behaviours
// of the real heuristics that the Java side must handle: the algorithm list may start with entries whose status
// is not SUCCESS, and for an FMA-math descriptor it may offer tensor-op entries first. Half/bfloat16 NHWC
// convolutions with fewer than 4 input channels get no supported algorithm, like the C = 3 shapes that real cuDNN
// may reject; the backend must then fall back to im2col (ConvPath.AUTO).
// The fused cudnnConvolutionBiasActivationForward (y = act(alpha1·conv(x, w) + alpha2·z + bias)) follows the documented
// rules: the identity activation only with IMPLICIT_PRECOMP_GEMM, z described like y, bias [1, K, 1, 1] of y's data
// type (FLOAT / PSEUDO_HALF / PSEUDO_BFLOAT16 configurations), z may be y itself (alpha2 = 0: z is not read). Like the
// alignment limits of real tensor-core kernels, 16-bit NHWC with an odd number of output channels has no
// IMPLICIT_PRECOMP_GEMM here, so the backend's fallback from the fused call to conv + bias kernel is exercised.
#include "storage.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

extern "C" int onestep_emu_check_range(const void* p, size_t bytes);  // fake_cuda.cpp

namespace {

enum Status { SUCCESS = 0, NOT_INITIALIZED = 1001, BAD_PARAM = 2000, NOT_SUPPORTED = 3000, EXECUTION_FAILED = 5000 };
enum DataType { FLOAT = 0, DOUBLE = 1, HALF = 2, BFLOAT16 = 9 };
enum Format { NCHW = 0, NHWC = 1 };
enum Math { DEFAULT_MATH = 0, TENSOR_OP = 1, TENSOR_OP_ALLOW_CONVERSION = 2, FMA = 3 };
enum { CONVOLUTION = 0, CROSS_CORRELATION = 1 };
enum { ALGO_IMPLICIT_GEMM = 0, ALGO_IMPLICIT_PRECOMP_GEMM = 1, ALGO_GEMM = 2, ALGO_FFT = 4 };
enum { ACT_SIGMOID = 0, ACT_RELU = 1, ACT_TANH = 2, ACT_CLIPPED_RELU = 3, ACT_ELU = 4, ACT_IDENTITY = 5, ACT_SWISH = 6 };

const int HANDLE = 0xD11, TENSOR = 0x7E5, FILTER = 0xF17, CONV = 0xC0F, ACTIVATION = 0xAC7;

struct Handle { int magic = HANDLE; void* stream = nullptr; };
struct Tensor { int magic = TENSOR; bool set = false; int format = 0, type = 0, n = 0, c = 0, h = 0, w = 0; };
struct Filter { int magic = FILTER; bool set = false; int format = 0, type = 0, k = 0, c = 0, h = 0, w = 0; };
struct Conv {
    int magic = CONV;
    bool set = false;
    int padH = 0, padW = 0, u = 1, v = 1, dilH = 1, dilW = 1, mode = 0, computeType = 0, math = DEFAULT_MATH;
};

struct Activation { int magic = ACTIVATION; bool set = false; int mode = 0, nanOpt = 0; double coef = 0; };

struct Perf {  // cudnnConvolutionFwdAlgoPerf_t, 48 bytes
    int algo, status;
    float time;
    size_t memory;
    int determinism, mathType;
    int reserved[3];
};
static_assert(sizeof(Perf) == 48, "cudnnConvolutionFwdAlgoPerf_t is 48 bytes");

bool is_handle(void* p) { return p && ((Handle*)p)->magic == HANDLE; }
bool is_tensor(void* p) { return p && ((Tensor*)p)->magic == TENSOR && ((Tensor*)p)->set; }
bool is_filter(void* p) { return p && ((Filter*)p)->magic == FILTER && ((Filter*)p)->set; }
bool is_conv(void* p) { return p && ((Conv*)p)->magic == CONV && ((Conv*)p)->set; }
bool is_activation(void* p) { return p && ((Activation*)p)->magic == ACTIVATION && ((Activation*)p)->set; }

int bad(const char* call, const char* why, int status = BAD_PARAM) {
    std::fprintf(stderr, "cudaemu %s: %s\n", call, why);
    return status;
}

bool float_type(int t) { return t == FLOAT || t == HALF || t == BFLOAT16; }
emu::Storage storage(int t) { return t == FLOAT ? emu::Storage::F32 : t == HALF ? emu::Storage::F16 : emu::Storage::BF16; }
size_t type_size(int t) { return emu::storage_size(storage(t)); }
float load(const void* p, int type, size_t i) { return emu::load(p, storage(type), i); }
void store(void* p, int type, size_t i, float v) { emu::store(p, storage(type), i, v); }

// element offsets for the two formats
size_t t_off(const Tensor& t, int n, int c, int y, int x) {
    return t.format == NHWC ? (((size_t)n * t.h + y) * t.w + x) * t.c + c : (((size_t)n * t.c + c) * t.h + y) * t.w + x;
}
size_t f_off(const Filter& f, int k, int c, int y, int x) {
    return f.format == NHWC ? (((size_t)k * f.h + y) * f.w + x) * f.c + c : (((size_t)k * f.c + c) * f.h + y) * f.w + x;
}

int out_dims(const Conv& cv, const Tensor& x, const Filter& w, int* n, int* c, int* h, int* wd) {
    if (x.c != w.c) return BAD_PARAM;
    int eh = (w.h - 1) * cv.dilH + 1, ew = (w.w - 1) * cv.dilW + 1;
    *n = x.n;
    *c = w.k;
    *h = (x.h + 2 * cv.padH - eh) / cv.u + 1;
    *wd = (x.w + 2 * cv.padW - ew) / cv.v + 1;
    return *h > 0 && *wd > 0 ? SUCCESS : BAD_PARAM;
}

const size_t WORKSPACE = 1 << 16;

// 16-bit NHWC with fewer than 4 input channels: no algorithm at all
bool few_channels(const Tensor& x) { return x.type != FLOAT && x.format == NHWC && x.c < 4; }
// 16-bit NHWC with an odd number of output channels: no IMPLICIT_PRECOMP_GEMM (tensor-core alignment)
bool precomp_supported(const Tensor& x, const Tensor& y) { return !few_channels(x) && !(x.type != FLOAT && y.format == NHWC && y.c % 2 != 0); }

// workspace of an algorithm for this problem, or (size_t)-1 when it has no kernel for it
size_t algo_workspace(int algo, const Tensor& x, const Tensor& y) {
    if (few_channels(x)) return (size_t)-1;
    if (algo == ALGO_IMPLICIT_PRECOMP_GEMM) return precomp_supported(x, y) ? WORKSPACE : (size_t)-1;
    if (algo == ALGO_IMPLICIT_GEMM) return 0;
    return (size_t)-1;
}

// the checks every algorithm query and the forward call share
int check_problem(const char* call, void* xD, void* wD, void* cD, void* yD) {
    if (!is_tensor(xD) || !is_filter(wD) || !is_conv(cD) || !is_tensor(yD)) return bad(call, "descriptor not created or not set");
    Tensor& x = *(Tensor*)xD;
    Tensor& y = *(Tensor*)yD;
    Filter& w = *(Filter*)wD;
    Conv& cv = *(Conv*)cD;
    if (x.type != w.type || x.type != y.type) return bad(call, "x, w and y data types differ");
    if (x.format != w.format) return bad(call, "x and w formats differ (NHWC data needs an NHWC = KRSC filter)");
    if (x.type != FLOAT && cv.computeType != FLOAT) return bad(call, "16-bit data needs a FLOAT compute type here (PSEUDO_HALF config)", NOT_SUPPORTED);
    int n, c, h, wd;
    if (out_dims(cv, x, w, &n, &c, &h, &wd) != SUCCESS) return bad(call, "input, filter and convolution do not fit");
    if (y.n != n || y.c != c || y.h != h || y.w != wd) return bad(call, "y descriptor differs from the convolution's output shape");
    return SUCCESS;
}

}  // namespace

// every cudnnDestroy*: the object's kind checked by its magic, cleared (a second destroy then fails), freed
template <class T>
int destroy(void* p, int magic) {
    T* o = (T*)p;
    if (!o || o->magic != magic) return BAD_PARAM;
    o->magic = 0;
    delete o;
    return SUCCESS;
}

extern "C" {

size_t cudnnGetVersion(void) { return 91000; }  // 9.10.0: major·10000 + minor·100 + patch in cuDNN 9

const char* cudnnGetErrorString(int status) {
    switch (status) {
        case SUCCESS: return "CUDNN_STATUS_SUCCESS";
        case NOT_INITIALIZED: return "CUDNN_STATUS_NOT_INITIALIZED";
        case BAD_PARAM: return "CUDNN_STATUS_BAD_PARAM";
        case NOT_SUPPORTED: return "CUDNN_STATUS_NOT_SUPPORTED";
        case EXECUTION_FAILED: return "CUDNN_STATUS_EXECUTION_FAILED";
        default: return "CUDNN_STATUS_UNKNOWN";
    }
}

int cudnnCreate(void** h) {
    if (!h) return BAD_PARAM;
    *h = new Handle();
    return SUCCESS;
}
int cudnnDestroy(void* h) { return destroy<Handle>(h, HANDLE); }
int cudnnSetStream(void* h, void* stream) {
    if (!is_handle(h)) return BAD_PARAM;
    ((Handle*)h)->stream = stream;
    return SUCCESS;
}

int cudnnCreateTensorDescriptor(void** d) { *d = new Tensor(); return SUCCESS; }
int cudnnDestroyTensorDescriptor(void* d) { return destroy<Tensor>(d, TENSOR); }
int cudnnSetTensor4dDescriptor(void* d, int format, int dataType, int n, int c, int h, int w) {
    if (!d || ((Tensor*)d)->magic != TENSOR) return BAD_PARAM;
    if (format != NCHW && format != NHWC) return bad("cudnnSetTensor4dDescriptor", "format");
    if (!float_type(dataType)) return bad("cudnnSetTensor4dDescriptor", "data type", NOT_SUPPORTED);
    if (n <= 0 || c <= 0 || h <= 0 || w <= 0) return bad("cudnnSetTensor4dDescriptor", "dimension <= 0");
    *(Tensor*)d = Tensor{TENSOR, true, format, dataType, n, c, h, w};
    return SUCCESS;
}

int cudnnCreateFilterDescriptor(void** d) { *d = new Filter(); return SUCCESS; }
int cudnnDestroyFilterDescriptor(void* d) { return destroy<Filter>(d, FILTER); }
int cudnnSetFilter4dDescriptor(void* d, int dataType, int format, int k, int c, int h, int w) {
    if (!d || ((Filter*)d)->magic != FILTER) return BAD_PARAM;
    if (format != NCHW && format != NHWC) return bad("cudnnSetFilter4dDescriptor", "format");
    if (!float_type(dataType)) return bad("cudnnSetFilter4dDescriptor", "data type", NOT_SUPPORTED);
    if (k <= 0 || c <= 0 || h <= 0 || w <= 0) return bad("cudnnSetFilter4dDescriptor", "dimension <= 0");
    *(Filter*)d = Filter{FILTER, true, format, dataType, k, c, h, w};
    return SUCCESS;
}

int cudnnCreateConvolutionDescriptor(void** d) { *d = new Conv(); return SUCCESS; }
int cudnnDestroyConvolutionDescriptor(void* d) { return destroy<Conv>(d, CONV); }
int cudnnSetConvolution2dDescriptor(void* d, int padH, int padW, int u, int v, int dilH, int dilW, int mode, int computeType) {
    if (!d || ((Conv*)d)->magic != CONV) return BAD_PARAM;
    if (padH < 0 || padW < 0 || u <= 0 || v <= 0 || dilH <= 0 || dilW <= 0) return bad("cudnnSetConvolution2dDescriptor", "pad/stride/dilation");
    if (mode != CONVOLUTION && mode != CROSS_CORRELATION) return bad("cudnnSetConvolution2dDescriptor", "mode");
    if (!float_type(computeType)) return bad("cudnnSetConvolution2dDescriptor", "compute type", NOT_SUPPORTED);
    Conv& c = *(Conv*)d;
    int math = c.math;
    c = Conv{CONV, true, padH, padW, u, v, dilH, dilW, mode, computeType, math};
    return SUCCESS;
}
int cudnnSetConvolutionMathType(void* d, int math) {
    if (!d || ((Conv*)d)->magic != CONV) return BAD_PARAM;
    if (math < DEFAULT_MATH || math > FMA) return bad("cudnnSetConvolutionMathType", "math type");
    ((Conv*)d)->math = math;
    return SUCCESS;
}

int cudnnGetConvolution2dForwardOutputDim(void* cD, void* xD, void* wD, int* n, int* c, int* h, int* w) {
    if (!is_conv(cD) || !is_tensor(xD) || !is_filter(wD)) return bad("cudnnGetConvolution2dForwardOutputDim", "descriptor not set");
    if (!n || !c || !h || !w) return BAD_PARAM;
    return out_dims(*(Conv*)cD, *(Tensor*)xD, *(Filter*)wD, n, c, h, w);
}

int cudnnGetConvolutionForwardAlgorithm_v7(void* h, void* xD, void* wD, void* cD, void* yD, int requested, int* returned, void* perfOut) {
    if (!is_handle(h)) return BAD_PARAM;
    if (requested <= 0 || !returned || !perfOut) return bad("cudnnGetConvolutionForwardAlgorithm_v7", "requested/returned/perf");
    if (int s = check_problem("cudnnGetConvolutionForwardAlgorithm_v7", xD, wD, cD, yD)) return s;
    Tensor& x = *(Tensor*)xD;
    Conv& cv = *(Conv*)cD;
    bool half = x.type != FLOAT;
    bool fewChannels = few_channels(x);
    int precomp = precomp_supported(x, *(Tensor*)yD) ? SUCCESS : NOT_SUPPORTED;
    std::vector<Perf> list;
    // an unsupported entry first, as the real list often has
    list.push_back(Perf{ALGO_FFT, NOT_SUPPORTED, -1.0f, 0, 0, DEFAULT_MATH, {0, 0, 0}});
    if (cv.math == FMA) {  // tensor-op offers first: the caller must skip them to stay at FMA math
        list.push_back(Perf{ALGO_IMPLICIT_PRECOMP_GEMM, precomp, 0.1f, WORKSPACE, 1, TENSOR_OP, {0, 0, 0}});
        list.push_back(Perf{ALGO_IMPLICIT_GEMM, fewChannels ? NOT_SUPPORTED : SUCCESS, 0.2f, 0, 1, DEFAULT_MATH, {0, 0, 0}});
        // the same algorithm may appear again with another math type (a fused plan needs this FMA PRECOMP entry)
        list.push_back(Perf{ALGO_IMPLICIT_PRECOMP_GEMM, precomp, 0.3f, WORKSPACE, 1, FMA, {0, 0, 0}});
    } else {
        list.push_back(Perf{ALGO_IMPLICIT_PRECOMP_GEMM, precomp, 0.1f, WORKSPACE, 1, half ? TENSOR_OP : DEFAULT_MATH, {0, 0, 0}});
        list.push_back(Perf{ALGO_IMPLICIT_GEMM, fewChannels ? NOT_SUPPORTED : SUCCESS, 0.2f, 0, 1, DEFAULT_MATH, {0, 0, 0}});
    }
    int count = std::min<int>(requested, (int)list.size());
    std::memcpy(perfOut, list.data(), sizeof(Perf) * count);
    *returned = count;
    return SUCCESS;
}

int cudnnGetConvolutionForwardWorkspaceSize(void* h, void* xD, void* wD, void* cD, void* yD, int algo, size_t* bytes) {
    if (!is_handle(h)) return BAD_PARAM;
    if (int s = check_problem("cudnnGetConvolutionForwardWorkspaceSize", xD, wD, cD, yD)) return s;
    if (!bytes) return BAD_PARAM;
    size_t need = algo_workspace(algo, *(Tensor*)xD, *(Tensor*)yD);
    if (need == (size_t)-1) return bad("cudnnGetConvolutionForwardWorkspaceSize", "algorithm not supported for this problem", NOT_SUPPORTED);
    *bytes = need;
    return SUCCESS;
}

}  // extern "C"

namespace {

// Both forward calls: checks the algorithm, workspace and every buffer, then
// y = act(alpha · conv(x, w) + zScale · z + bias) per element (z, bias optional: null), accumulated in fp32.
int run_conv(const char* call, void* xD, const void* x, void* wD, const void* w, void* cD, int algo, void* workspace, size_t wsBytes,
             float alpha, void* yD, void* y, float zScale, const void* z, const void* bias, int act) {
    Tensor& X = *(Tensor*)xD;
    Tensor& Y = *(Tensor*)yD;
    Filter& W = *(Filter*)wD;
    Conv& cv = *(Conv*)cD;
    size_t need = algo_workspace(algo, X, Y);
    if (need == (size_t)-1) return bad(call, "algorithm not supported for this problem", NOT_SUPPORTED);
    if (wsBytes < need) return bad(call, "workspace smaller than cudnnGetConvolutionForwardWorkspaceSize");
    size_t es = type_size(X.type);
    size_t xs = (size_t)X.n * X.c * X.h * X.w, ws = (size_t)W.k * W.c * W.h * W.w, ys = (size_t)Y.n * Y.c * Y.h * Y.w;
    if (!onestep_emu_check_range(x, xs * es)) return bad(call, "x outside every device allocation");
    if (!onestep_emu_check_range(w, ws * es)) return bad(call, "w outside every device allocation");
    if (!onestep_emu_check_range(y, ys * es)) return bad(call, "y outside every device allocation");
    if (zScale != 0.0f && !onestep_emu_check_range(z, ys * es)) return bad(call, "z outside every device allocation");
    if (bias && !onestep_emu_check_range(bias, (size_t)Y.c * es)) return bad(call, "bias outside every device allocation");
    if (need > 0) {
        if (!workspace || !onestep_emu_check_range(workspace, need)) return bad(call, "workspace outside every device allocation");
        std::memset(workspace, 0xA5, need);  // scribble: the workspace is ours during the call
    }
    bool flip = cv.mode == CONVOLUTION;
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < Y.n; n++) {
        for (int oy = 0; oy < Y.h; oy++) {
            for (int ox = 0; ox < Y.w; ox++) {
                for (int k = 0; k < Y.c; k++) {
                    float acc = 0.0f;
                    for (int r = 0; r < W.h; r++) {
                        int iy = oy * cv.u - cv.padH + r * cv.dilH;
                        if (iy < 0 || iy >= X.h) continue;
                        for (int s = 0; s < W.w; s++) {
                            int ix = ox * cv.v - cv.padW + s * cv.dilW;
                            if (ix < 0 || ix >= X.w) continue;
                            int fr = flip ? W.h - 1 - r : r, fs = flip ? W.w - 1 - s : s;
                            for (int c = 0; c < X.c; c++) acc = std::fma(load(x, X.type, t_off(X, n, c, iy, ix)), load(w, W.type, f_off(W, k, c, fr, fs)), acc);
                        }
                    }
                    size_t yi = t_off(Y, n, k, oy, ox);
                    float out = alpha * acc;
                    if (zScale != 0.0f) out += zScale * load(z, Y.type, yi);  // z before y is written: z may alias y
                    if (bias) out += load(bias, Y.type, (size_t)k);           // [1, K, 1, 1]: element k in either format
                    if (act == ACT_RELU) out = out > 0.0f ? out : 0.0f;
                    store(y, Y.type, yi, out);
                }
            }
        }
    }
    return SUCCESS;
}

}  // namespace

extern "C" {

// y = alpha · conv(x, w) + beta · y
int cudnnConvolutionForward(void* h, const void* alpha, void* xD, const void* x, void* wD, const void* w, void* cD, int algo, void* workspace,
                            size_t wsBytes, const void* beta, void* yD, void* y) {
    const char* call = "cudnnConvolutionForward";
    if (!is_handle(h)) return BAD_PARAM;
    if (int s = check_problem(call, xD, wD, cD, yD)) return s;
    if (!alpha || !beta || !x || !w || !y) return bad(call, "null pointer");
    // alpha/beta are float for FLOAT/HALF/BFLOAT16 data; beta · y is y read as z
    float a = *(const float*)alpha, b = *(const float*)beta;
    return run_conv(call, xD, x, wD, w, cD, algo, workspace, wsBytes, a, yD, y, b, y, nullptr, ACT_IDENTITY);
}

int cudnnCreateActivationDescriptor(void** d) {
    if (!d) return BAD_PARAM;
    *d = new Activation();
    return SUCCESS;
}
int cudnnDestroyActivationDescriptor(void* d) { return destroy<Activation>(d, ACTIVATION); }
int cudnnSetActivationDescriptor(void* d, int mode, int nanOpt, double coef) {
    if (!d || ((Activation*)d)->magic != ACTIVATION) return BAD_PARAM;
    if (mode < ACT_SIGMOID || mode > ACT_SWISH) return bad("cudnnSetActivationDescriptor", "mode");
    if (nanOpt != 0 && nanOpt != 1) return bad("cudnnSetActivationDescriptor", "NaN propagation");
    *(Activation*)d = Activation{ACTIVATION, true, mode, nanOpt, coef};
    return SUCCESS;
}

// y = act(alpha1 · conv(x, w) + alpha2 · z + bias)
int cudnnConvolutionBiasActivationForward(void* h, const void* alpha1, void* xD, const void* x, void* wD, const void* w, void* cD, int algo,
                                          void* workspace, size_t wsBytes, const void* alpha2, void* zD, const void* z, void* biasD,
                                          const void* bias, void* actD, void* yD, void* y) {
    const char* call = "cudnnConvolutionBiasActivationForward";
    if (!is_handle(h)) return BAD_PARAM;
    if (int s = check_problem(call, xD, wD, cD, yD)) return s;
    if (!alpha1 || !alpha2 || !x || !w || !y || !z || !bias) return bad(call, "null pointer");
    if (!is_tensor(zD) || !is_tensor(biasD) || !is_activation(actD)) return bad(call, "z, bias or activation descriptor not created or not set");
    Tensor& Y = *(Tensor*)yD;
    Tensor& Z = *(Tensor*)zD;
    Tensor& B = *(Tensor*)biasD;
    Activation& A = *(Activation*)actD;
    if (Z.type != Y.type || Z.format != Y.format || Z.n != Y.n || Z.c != Y.c || Z.h != Y.h || Z.w != Y.w)
        return bad(call, "z must be described like y");
    if (B.n != 1 || B.c != Y.c || B.h != 1 || B.w != 1) return bad(call, "bias must be [1, K, 1, 1]");
    // FLOAT / PSEUDO_HALF / PSEUDO_BFLOAT16 configurations: the bias has y's data type
    if (B.type != Y.type) return bad(call, "bias data type differs from y's", NOT_SUPPORTED);
    if (A.mode != ACT_IDENTITY && A.mode != ACT_RELU) return bad(call, "only RELU and IDENTITY activations are supported", NOT_SUPPORTED);
    if (A.mode == ACT_IDENTITY && algo != ALGO_IMPLICIT_PRECOMP_GEMM)
        return bad(call, "CUDNN_ACTIVATION_IDENTITY needs CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM", NOT_SUPPORTED);
    float a1 = *(const float*)alpha1, a2 = *(const float*)alpha2;
    return run_conv(call, xD, x, wD, w, cD, algo, workspace, wsBytes, a1, yD, y, a2, z, bias, A.mode);
}

}  // extern "C"
