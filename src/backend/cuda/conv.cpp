// CUDA backend: 2-D convolution with cuDNN -- forward, backward data and backward filter side by
// side, the per-device cuDNN handle, the per-shape plan cache (descriptors + algorithm chosen by
// cuDNN's heuristics, or by timing them with set_cudnn_benchmark), and the TF32 and benchmark
// switches of backend/cuda.h.
#include <cudnn.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <climits>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "backend/cuda/cuda_backend.h"

// A failed cuDNN call: names the call, cuDNN's status string and its last detailed message, and
// `where` (the op and its shapes; evaluated only on failure).
#define MAGMADNN_CUDNN_CHECK(expr, where)                                                   \
  do {                                                                                      \
    const cudnnStatus_t magmadnn_cudnn_st_ = (expr);                                        \
    if (magmadnn_cudnn_st_ != CUDNN_STATUS_SUCCESS)                                         \
      ::magmadnn::cuda::cudnn_failed(__FILE__, __LINE__, #expr, magmadnn_cudnn_st_, where); \
  } while (0)

namespace magmadnn::cuda {

// ------------------------------------------------------------------------------ TF32 switch

namespace {
std::atomic<bool> g_allow_tf32{false};
std::atomic<bool> g_cudnn_benchmark{false};

[[noreturn]] void cudnn_failed(const char* file, int line, const char* call, cudnnStatus_t status,
                               const std::string& where) {
  char detail_msg[512] = {0};
  cudnnGetLastErrorString(detail_msg, sizeof(detail_msg));
  detail::throw_error(file, line,
                      detail::str_cat("cuDNN error in ", call, ": ", cudnnGetErrorString(status), " (", where,
                                      ")", detail_msg[0] ? ": " : "", detail_msg));
}
}  // namespace

void set_allow_tf32(bool enabled) {
  g_allow_tf32.store(enabled);
}
bool allow_tf32() {
  return g_allow_tf32.load();
}
void set_cudnn_benchmark(bool enabled) {
  g_cudnn_benchmark.store(enabled);
}
bool cudnn_benchmark() {
  return g_cudnn_benchmark.load();
}

namespace {

// Upper bound on a convolution's workspace; algorithms that need more are passed over. Large
// enough for the FFT/Winograd variants of ResNet-sized layers, small next to an H100's memory.
constexpr size_t kWorkspaceLimit = size_t(1) << 30;

enum class Pass { Forward = 0, BackwardData = 1, BackwardFilter = 2 };
const char* pass_name(Pass pass) {
  switch (pass) {
    case Pass::Forward:
      return "conv2d";
    case Pass::BackwardData:
      return "conv2d_backward_data";
    default:
      return "conv2d_backward_weights";
  }
}

// The geometry of one convolution: x (N, C, H, W), weight (O, C/groups, KH, KW), y (N, O, OH, OW).
struct ConvGeom {
  int64_t N, C, H, W, O, KH, KW, OH, OW;
  Conv2dParams p;
  DType dtype;
  int device;

  ConvGeom(const Shape& x, const Shape& w, const Shape& y, const Conv2dParams& prm, DType dt, int dev)
      : N(x[0]),
        C(x[1]),
        H(x[2]),
        W(x[3]),
        O(w[0]),
        KH(w[2]),
        KW(w[3]),
        OH(y[2]),
        OW(y[3]),
        p(prm),
        dtype(dt),
        device(dev) {}

  std::string describe(Pass pass) const {
    return detail::str_cat(pass_name(pass), " on cuda:", device, ": x (", N, ", ", C, ", ", H, ", ", W,
                           "), weight (", O, ", ", p.groups > 0 ? C / p.groups : C, ", ", KH, ", ", KW,
                           "), out (", N, ", ", O, ", ", OH, ", ", OW, "), stride (", p.stride_h, ", ",
                           p.stride_w, "), padding (", p.pad_h, ", ", p.pad_w, "), dilation (", p.dilation_h,
                           ", ", p.dilation_w, "), groups ", p.groups, ", ", dtype_name(dtype));
  }
};

// Everything that selects a plan: device, pass, dtype, math mode, how the algorithm is chosen,
// shapes and parameters.
using PlanKey = std::array<int64_t, 20>;
PlanKey plan_key(const ConvGeom& g, Pass pass, bool tf32, bool timed) {
  return {g.device,
          static_cast<int64_t>(pass),
          static_cast<int64_t>(g.dtype),
          (tf32 ? 1 : 0) | (timed ? 2 : 0),
          g.N,
          g.C,
          g.H,
          g.W,
          g.O,
          g.KH,
          g.KW,
          g.OH,
          g.OW,
          g.p.stride_h,
          g.p.stride_w,
          g.p.pad_h,
          g.p.pad_w,
          g.p.dilation_h,
          g.p.dilation_w,
          g.p.groups};
}

// Descriptors and the chosen algorithm for one (pass, geometry, dtype, math mode); made once,
// then only read (cuDNN calls take descriptors as const), so concurrent use is safe.
struct ConvPlan {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  int algo = 0;  // a cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t, by pass
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  size_t workspace = 0;  // bytes

  ConvPlan() = default;
  ConvPlan(const ConvPlan&) = delete;
  ConvPlan& operator=(const ConvPlan&) = delete;
  ~ConvPlan() {
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
    if (w) cudnnDestroyFilterDescriptor(w);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (x) cudnnDestroyTensorDescriptor(x);
  }
};

// One cuDNN handle per device and that device's plan cache. `mutex` guards both and is held for
// the whole of each convolution call: a handle must not be used by two threads at once (its
// stream is set per call), and the cache is small and rarely written.
struct DeviceCudnn {
  std::mutex mutex;
  cudnnHandle_t handle = nullptr;
  std::map<PlanKey, std::unique_ptr<ConvPlan>> plans;
};

DeviceCudnn& device_cudnn(int index) { return per_device<DeviceCudnn>(index, "cuDNN"); }

// The handle of the current device (which must be `d`'s), created on first use, bound to this
// device's stream: stream() may differ per device and per call, so it is set before every use.
cudnnHandle_t handle_on_stream(DeviceCudnn& d, const ConvGeom& g, Pass pass) {
  if (!d.handle) MAGMADNN_CUDNN_CHECK(cudnnCreate(&d.handle), g.describe(pass));
  MAGMADNN_CUDNN_CHECK(cudnnSetStream(d.handle, stream()), g.describe(pass));
  return d.handle;
}

cudnnDataType_t cudnn_dtype(DType dt) {
  return dt == kFloat64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
}

int to_int(int64_t v, const ConvGeom& g, Pass pass, const char* what) {
  MAGMADNN_CHECK(v >= 0 && v <= INT_MAX, pass_name(pass), ": ", what, " = ", v,
                 " exceeds cuDNN's int range (", g.describe(pass), ")");
  return static_cast<int>(v);
}

// Math modes. Full fp32 is CUDNN_FMA_MATH, which restricts cuDNN to kernels without TF32 tensor
// cores, and stays set on the descriptor whatever a candidate reports (cuDNN then runs the
// algorithm's FMA kernel). With allow_tf32(), fp32 starts from CUDNN_DEFAULT_MATH (TF32 allowed on
// Ampere and newer) and takes each candidate's own math mode, as cuDNN chooses kernels from the
// algorithm and the math mode together. Never ..._ALLOW_CONVERSION, which may round fp32 data to
// fp16. fp64 has no reduced-precision mode.
bool pins_fma(DType dt, bool tf32) {
  return dt == kFloat32 && !tf32;
}
cudnnMathType_t base_math(DType dt, bool tf32) {
  return pins_fma(dt, tf32) ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH;
}
// The math mode to run candidate `reported` with, or false when it must not run here.
bool math_for(cudnnMathType_t reported, DType dt, bool tf32, cudnnMathType_t* use) {
  if (reported == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) return false;
  if (pins_fma(dt, tf32)) {
    if (reported == CUDNN_TENSOR_OP_MATH) return false;  // a tensor-core kernel: not full fp32
    *use = CUDNN_FMA_MATH;
    return true;
  }
  *use = reported;
  return true;
}

// Fills the descriptors of `plan` for geometry g and checks that cuDNN computes the same output
// size as the caller allocated.
void set_descriptors(ConvPlan& plan, const ConvGeom& g, Pass pass, bool tf32) {
  const std::string where = g.describe(pass);
  const cudnnDataType_t dt = cudnn_dtype(g.dtype);
  MAGMADNN_CUDNN_CHECK(cudnnCreateTensorDescriptor(&plan.x), where);
  MAGMADNN_CUDNN_CHECK(cudnnCreateTensorDescriptor(&plan.y), where);
  MAGMADNN_CUDNN_CHECK(cudnnCreateFilterDescriptor(&plan.w), where);
  MAGMADNN_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&plan.conv), where);
  // cuDNN's 4-d descriptors index with int: every tensor must have fewer than 2^31 elements.
  to_int(g.N * g.C * g.H * g.W, g, pass, "the input's element count");
  to_int(g.N * g.O * g.OH * g.OW, g, pass, "the output's element count");
  to_int(g.O * (g.C / g.p.groups) * g.KH * g.KW, g, pass, "the weight's element count");
  MAGMADNN_CUDNN_CHECK(cudnnSetTensor4dDescriptor(plan.x, CUDNN_TENSOR_NCHW, dt, to_int(g.N, g, pass, "N"),
                                                  to_int(g.C, g, pass, "C"), to_int(g.H, g, pass, "H"),
                                                  to_int(g.W, g, pass, "W")),
                       where);
  MAGMADNN_CUDNN_CHECK(cudnnSetFilter4dDescriptor(plan.w, dt, CUDNN_TENSOR_NCHW, to_int(g.O, g, pass, "O"),
                                                  to_int(g.C / g.p.groups, g, pass, "C / groups"),
                                                  to_int(g.KH, g, pass, "KH"), to_int(g.KW, g, pass, "KW")),
                       where);
  // Cross-correlation (no kernel flip), as PyTorch and the CPU backend compute; accumulate in the
  // data type.
  MAGMADNN_CUDNN_CHECK(
      cudnnSetConvolution2dDescriptor(
          plan.conv, to_int(g.p.pad_h, g, pass, "pad_h"), to_int(g.p.pad_w, g, pass, "pad_w"),
          to_int(g.p.stride_h, g, pass, "stride_h"), to_int(g.p.stride_w, g, pass, "stride_w"),
          to_int(g.p.dilation_h, g, pass, "dilation_h"), to_int(g.p.dilation_w, g, pass, "dilation_w"),
          CUDNN_CROSS_CORRELATION, dt),
      where);
  MAGMADNN_CUDNN_CHECK(cudnnSetConvolutionGroupCount(plan.conv, to_int(g.p.groups, g, pass, "groups")),
                       where);
  plan.math = base_math(g.dtype, tf32);
  MAGMADNN_CUDNN_CHECK(cudnnSetConvolutionMathType(plan.conv, plan.math), where);
  int n = 0, c = 0, h = 0, w = 0;
  MAGMADNN_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(plan.conv, plan.x, plan.w, &n, &c, &h, &w),
                       where);
  MAGMADNN_CHECK(n == g.N && c == g.O && h == g.OH && w == g.OW, pass_name(pass),
                 ": cuDNN computes an output of (", n, ", ", c, ", ", h, ", ", w, ") but the output is (",
                 g.N, ", ", g.O, ", ", g.OH, ", ", g.OW, ") (", where, ")");
  MAGMADNN_CUDNN_CHECK(cudnnSetTensor4dDescriptor(plan.y, CUDNN_TENSOR_NCHW, dt, n, c, h, w), where);
}

// Picks the first of cuDNN's heuristic candidates (ordered fastest first) that succeeds, may run
// in the math mode and fits the workspace limit; `workspace_of(algo)` asks cuDNN for the exact
// size once the descriptor has the candidate's math mode (and refuses what that mode cannot run).
// Should the heuristics offer nothing usable, every algorithm of the pass (0 .. algo_count - 1) is
// tried in the base math mode, so a working if slower kernel is still found.
template <typename Algo, typename Perf, typename WorkspaceOf>
void choose(ConvPlan& plan, const std::vector<Perf>& perfs, int returned, int algo_count, const ConvGeom& g,
            Pass pass, bool tf32, WorkspaceOf workspace_of) {
  const std::string where = g.describe(pass);
  std::string passed_over;
  auto try_algo = [&](Algo algo, cudnnMathType_t math) {
    MAGMADNN_CUDNN_CHECK(cudnnSetConvolutionMathType(plan.conv, math), where);
    size_t bytes = 0;
    const cudnnStatus_t st = workspace_of(algo, &bytes);
    if (st != CUDNN_STATUS_SUCCESS) {
      passed_over += detail::str_cat(" algo ", static_cast<int>(algo), ": ", cudnnGetErrorString(st), ";");
      return false;
    }
    if (bytes > kWorkspaceLimit) {
      passed_over += detail::str_cat(" algo ", static_cast<int>(algo), " wants ", bytes, " bytes;");
      return false;
    }
    plan.algo = static_cast<int>(algo);
    plan.math = math;
    plan.workspace = bytes;
    return true;
  };
  for (int i = 0; i < returned; ++i) {
    cudnnMathType_t math = CUDNN_DEFAULT_MATH;
    if (perfs[i].status != CUDNN_STATUS_SUCCESS || !math_for(perfs[i].mathType, g.dtype, tf32, &math))
      continue;
    if (try_algo(perfs[i].algo, math)) return;
  }
  for (int a = 0; a < algo_count; ++a)
    if (try_algo(static_cast<Algo>(a), base_math(g.dtype, tf32))) return;
  MAGMADNN_ERROR(pass_name(pass), ": no cuDNN algorithm runs within a ", kWorkspaceLimit,
                 "-byte workspace in the math mode (allow_tf32 = ", tf32 ? "true" : "false", ") for ", where,
                 " (", returned, " heuristic candidates)",
                 passed_over.empty() ? "" : "; passed over:", passed_over);
}

// With `timed`, cuDNN's Find functions run every algorithm on scratch buffers of their own and
// rank them by measured time (they synchronise); otherwise the _v7 heuristics rank them unrun.
std::unique_ptr<ConvPlan> make_plan(cudnnHandle_t h, const ConvGeom& g, Pass pass, bool tf32, bool timed) {
  auto plan = std::make_unique<ConvPlan>();
  set_descriptors(*plan, g, pass, tf32);
  const std::string where = g.describe(pass);
  ConvPlan& pl = *plan;
  int max_count = 0, returned = 0;
  switch (pass) {
    case Pass::Forward: {
      MAGMADNN_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(h, &max_count), where);
      std::vector<cudnnConvolutionFwdAlgoPerf_t> perfs(std::max(max_count, 1));
      MAGMADNN_CUDNN_CHECK(timed ? cudnnFindConvolutionForwardAlgorithm(h, pl.x, pl.w, pl.conv, pl.y, max_count,
                                                                        &returned, perfs.data())
                                 : cudnnGetConvolutionForwardAlgorithm_v7(h, pl.x, pl.w, pl.conv, pl.y, max_count,
                                                                          &returned, perfs.data()),
                           where);
      choose<cudnnConvolutionFwdAlgo_t>(pl, perfs, returned, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, g, pass, tf32,
                                        [&](cudnnConvolutionFwdAlgo_t a, size_t* bytes) {
                                          return cudnnGetConvolutionForwardWorkspaceSize(
                                              h, pl.x, pl.w, pl.conv, pl.y, a, bytes);
                                        });
      break;
    }
    case Pass::BackwardData: {
      MAGMADNN_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, &max_count), where);
      std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perfs(std::max(max_count, 1));
      MAGMADNN_CUDNN_CHECK(timed ? cudnnFindConvolutionBackwardDataAlgorithm(h, pl.w, pl.y, pl.conv, pl.x,
                                                                             max_count, &returned, perfs.data())
                                 : cudnnGetConvolutionBackwardDataAlgorithm_v7(h, pl.w, pl.y, pl.conv, pl.x,
                                                                               max_count, &returned, perfs.data()),
                           where);
      choose<cudnnConvolutionBwdDataAlgo_t>(pl, perfs, returned, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, g,
                                            pass, tf32, [&](cudnnConvolutionBwdDataAlgo_t a, size_t* bytes) {
                                              return cudnnGetConvolutionBackwardDataWorkspaceSize(
                                                  h, pl.w, pl.y, pl.conv, pl.x, a, bytes);
                                            });
      break;
    }
    case Pass::BackwardFilter: {
      MAGMADNN_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, &max_count), where);
      std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perfs(std::max(max_count, 1));
      MAGMADNN_CUDNN_CHECK(timed ? cudnnFindConvolutionBackwardFilterAlgorithm(h, pl.x, pl.y, pl.conv, pl.w,
                                                                               max_count, &returned, perfs.data())
                                 : cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, pl.x, pl.y, pl.conv, pl.w,
                                                                                 max_count, &returned, perfs.data()),
                           where);
      choose<cudnnConvolutionBwdFilterAlgo_t>(
          pl, perfs, returned, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, g, pass, tf32,
          [&](cudnnConvolutionBwdFilterAlgo_t a, size_t* bytes) {
            return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, pl.x, pl.y, pl.conv, pl.w, a, bytes);
          });
      break;
    }
  }
  return plan;
}

// The cached plan for (g, pass, current math mode); d.mutex must be held.
const ConvPlan& plan_for(DeviceCudnn& d, cudnnHandle_t h, const ConvGeom& g, Pass pass) {
  const bool tf32 = g.dtype == kFloat32 && allow_tf32();  // TF32 only concerns fp32
  // Timing runs kernels and synchronises, which a capture forbids: a shape first met while
  // capturing gets (and keeps) the heuristics' choice.
  const bool timed = cudnn_benchmark() && !stream_is_capturing();
  const PlanKey key = plan_key(g, pass, tf32, timed);
  auto it = d.plans.find(key);
  if (it == d.plans.end()) {
    // A shape timed before a capture is found under its timed key during the capture.
    if (!timed && cudnn_benchmark()) it = d.plans.find(plan_key(g, pass, tf32, true));
    if (it == d.plans.end()) it = d.plans.emplace(key, make_plan(h, g, pass, tf32, timed)).first;
  }
  return *it->second;
}

// alpha = 1, beta = 0 in the data type cuDNN expects for the tensors' dtype (double for fp64,
// float otherwise). beta = 0: the output is overwritten and never read (cuDNN's rule), so it may
// hold garbage, even NaN.
struct Scaling {
  float f1 = 1.0f, f0 = 0.0f;
  double d1 = 1.0, d0 = 0.0;
  bool dbl;
  explicit Scaling(DType dt) : dbl(dt == kFloat64) {}
  const void* one() const { return dbl ? static_cast<const void*>(&d1) : static_cast<const void*>(&f1); }
  const void* zero() const { return dbl ? static_cast<const void*>(&d0) : static_cast<const void*>(&f0); }
};

// A temporary workspace of `bytes` from the device's caching allocator (undefined when 0).
Tensor workspace(size_t bytes, Device device) {
  return bytes ? Tensor::empty({static_cast<int64_t>(bytes)}, kUInt8, device) : Tensor();
}
void* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.raw_data() : nullptr;
}

// Checks the operands of one convolution kernel call and returns its geometry. x_shape/y_shape
// are (N, C, H, W) and (N, O, OH, OW); the weight is (O, C/groups, KH, KW).
ConvGeom checked_geom(Pass pass, const Tensor& x_like, const Tensor& w, const Tensor& y_like,
                      std::initializer_list<const Tensor*> all, const Conv2dParams& p) {
  const char* op = pass_name(pass);
  for (const Tensor* t : all) {
    if (!t->defined()) continue;
    check_cuda_tensor(*t, op);
    MAGMADNN_CHECK(t->device() == x_like.device(), op, ": tensors on ", x_like.device(), " and ",
                   t->device());
    MAGMADNN_CHECK(t->dtype() == x_like.dtype(), op, ": dtypes ", x_like.dtype(), " and ", t->dtype(),
                   " differ");
  }
  MAGMADNN_CHECK(x_like.dtype() == kFloat32 || x_like.dtype() == kFloat64, op,
                 ": expected float32 or float64 tensors, got ", x_like.dtype());
  MAGMADNN_CHECK(x_like.dim() == 4 && w.dim() == 4 && y_like.dim() == 4, op,
                 ": expected x (N, C, H, W), weight (O, ", "C/groups, KH, KW) and out (N, O, OH, OW), got ",
                 x_like.shape(), ", ", w.shape(), " and ", y_like.shape());
  MAGMADNN_CHECK(p.groups >= 1 && p.stride_h >= 1 && p.stride_w >= 1 && p.dilation_h >= 1 &&
                     p.dilation_w >= 1 && p.pad_h >= 0 && p.pad_w >= 0,
                 op, ": invalid parameters: stride (", p.stride_h, ", ", p.stride_w, "), padding (", p.pad_h,
                 ", ", p.pad_w, "), dilation (", p.dilation_h, ", ", p.dilation_w, "), groups ", p.groups);
  MAGMADNN_CHECK(x_like.size(1) == w.size(1) * p.groups && w.size(0) % p.groups == 0 &&
                     y_like.size(1) == w.size(0) && y_like.size(0) == x_like.size(0),
                 op, ": shapes do not agree: x ", x_like.shape(), ", weight ", w.shape(), ", out ",
                 y_like.shape(), ", groups ", p.groups);
  return ConvGeom(x_like.shape(), w.shape(), y_like.shape(), p, x_like.dtype(), x_like.device().index);
}

}  // namespace

// ------------------------------------------------------------------------------ kernels
// Inputs that are not contiguous are copied (cuDNN gets plain NCHW); outputs that are not
// contiguous are computed into a temporary and copied back. The workspace is a temporary tensor
// from the device's caching allocator: freeing it right after the call is safe because every
// later use of the block is queued behind this call on the same stream.

namespace {
// The cuDNN call of one pass under the device's lock, with its plan and workspace; `call_name`
// names the cuDNN function in an error.
template <typename Call>
void run_pass(const ConvGeom& g, Pass pass, const char* call_name, Call call) {
  DeviceCudnn& d = device_cudnn(g.device);
  std::lock_guard<std::mutex> lock(d.mutex);
  cudnnHandle_t h = handle_on_stream(d, g, pass);
  const ConvPlan& plan = plan_for(d, h, g, pass);
  const Tensor ws = workspace(plan.workspace, Device::cuda(g.device));
  const cudnnStatus_t st = call(h, plan, ptr_or_null(ws), Scaling(g.dtype));
  if (st != CUDNN_STATUS_SUCCESS)
    cudnn_failed(__FILE__, __LINE__, call_name, st,
                 detail::str_cat(g.describe(pass), ", algorithm ", plan.algo, ", math mode ",
                                 static_cast<int>(plan.math), ", workspace ", plan.workspace, " bytes"));
}

// A contiguous copy of t on its device (t itself when already contiguous or undefined).
Tensor dense_copy(Backend& be, const Tensor& t) {
  if (!t.defined() || t.is_contiguous()) return t;
  Tensor c = Tensor::empty(t.shape(), t.dtype(), t.device());
  be.copy(t, c);
  return c;
}
}  // namespace

void CudaBackend::conv2d(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in, Tensor& y,
                         const Conv2dParams& p) {
  // x: (N, C, H, W), w: (O, C/g, KH, KW), b: (O) or undefined -> y: (N, O, OH, OW)
  const ConvGeom g = checked_geom(Pass::Forward, x_in, w_in, y, {&x_in, &w_in, &b_in, &y}, p);
  MAGMADNN_CHECK(!b_in.defined() || (b_in.dim() == 1 && b_in.size(0) == g.O), "conv2d: expected bias (", g.O,
                 "), got ", b_in.shape(), " (", g.describe(Pass::Forward), ")");
  if (y.numel() == 0) return;
  DeviceGuard scope(g.device);
  const Tensor x = dense_copy(*this, x_in), w = dense_copy(*this, w_in), b = dense_copy(*this, b_in);
  const bool direct = y.is_contiguous();
  Tensor yc = direct ? y : Tensor::empty(y.shape(), y.dtype(), y.device());
  if (x.numel() == 0 || w.numel() == 0) {
    fill(yc, 0.0);  // no input channels: the output is the bias alone
  } else {
    run_pass(g, Pass::Forward, "cudnnConvolutionForward",
             [&](cudnnHandle_t h, const ConvPlan& plan, void* ws, const Scaling& s) {
               return cudnnConvolutionForward(h, s.one(), plan.x, x.raw_data(), plan.w, w.raw_data(),
                                              plan.conv, static_cast<cudnnConvolutionFwdAlgo_t>(plan.algo),
                                              ws, plan.workspace, s.zero(), plan.y, yc.raw_data());
             });
  }
  if (b.defined()) {
    // y += b over (N, OH, OW): the elementwise kernel with b as a stride-0 broadcast view.
    const Tensor bb = make_view(b, yc.shape(), {0, 1, 0, 0}, b.offset());
    binary(BinaryOp::Add, yc, bb, yc, 0.0, 0.0);
  }
  if (!direct) copy_device(yc, y);
}

void CudaBackend::conv2d_backward_data(const Tensor& gy_in, const Tensor& w_in, Tensor& gx,
                                       const Conv2dParams& p) {
  // gy: (N, O, OH, OW), w: (O, C/g, KH, KW) -> gx: (N, C, H, W)
  const ConvGeom g = checked_geom(Pass::BackwardData, gx, w_in, gy_in, {&gx, &w_in, &gy_in}, p);
  if (gx.numel() == 0) return;
  DeviceGuard scope(g.device);
  const bool direct = gx.is_contiguous();
  Tensor gxc = direct ? gx : Tensor::empty(gx.shape(), gx.dtype(), gx.device());
  if (gy_in.numel() == 0 || w_in.numel() == 0) {
    fill(gxc, 0.0);  // no output channels: nothing flows back
  } else {
    const Tensor gy = dense_copy(*this, gy_in), w = dense_copy(*this, w_in);
    run_pass(g, Pass::BackwardData, "cudnnConvolutionBackwardData",
             [&](cudnnHandle_t h, const ConvPlan& plan, void* ws, const Scaling& s) {
               return cudnnConvolutionBackwardData(h, s.one(), plan.w, w.raw_data(), plan.y, gy.raw_data(),
                                                   plan.conv,
                                                   static_cast<cudnnConvolutionBwdDataAlgo_t>(plan.algo), ws,
                                                   plan.workspace, s.zero(), plan.x, gxc.raw_data());
             });
  }
  if (!direct) copy_device(gxc, gx);
}

void CudaBackend::conv2d_backward_weights(const Tensor& x_in, const Tensor& gy_in, Tensor& gw, Tensor& gb,
                                          const Conv2dParams& p) {
  // x: (N, C, H, W), gy: (N, O, OH, OW) -> gw: (O, C/g, KH, KW), gb: (O) or undefined
  const ConvGeom g = checked_geom(Pass::BackwardFilter, x_in, gw, gy_in, {&x_in, &gy_in, &gw, &gb}, p);
  MAGMADNN_CHECK(!gb.defined() || (gb.dim() == 1 && gb.size(0) == g.O),
                 "conv2d_backward_weights: expected grad_bias (", g.O, "), got ", gb.shape(), " (",
                 g.describe(Pass::BackwardFilter), ")");
  DeviceGuard scope(g.device);
  if (gy_in.numel() == 0) {  // empty batch or output: zero gradients
    if (gw.numel() > 0) fill(gw, 0.0);
    if (gb.defined() && gb.numel() > 0) fill(gb, 0.0);
    return;
  }
  const Tensor gy = dense_copy(*this, gy_in);
  if (gw.numel() > 0) {
    const Tensor x = dense_copy(*this, x_in);
    const bool direct = gw.is_contiguous();
    Tensor gwc = direct ? gw : Tensor::empty(gw.shape(), gw.dtype(), gw.device());
    run_pass(g, Pass::BackwardFilter, "cudnnConvolutionBackwardFilter",
             [&](cudnnHandle_t h, const ConvPlan& plan, void* ws, const Scaling& s) {
               return cudnnConvolutionBackwardFilter(h, s.one(), plan.x, x.raw_data(), plan.y, gy.raw_data(),
                                                     plan.conv,
                                                     static_cast<cudnnConvolutionBwdFilterAlgo_t>(plan.algo),
                                                     ws, plan.workspace, s.zero(), plan.w, gwc.raw_data());
             });
    if (!direct) copy_device(gwc, gw);
  }
  if (gb.defined() && gb.numel() > 0) {
    // gb[o] = sum over n, oh, ow of gy[n, o, oh, ow]: two single-run reductions (spatial, then
    // batch), so neither needs a transposed copy of gy.
    const int64_t S = g.OH * g.OW;
    Tensor per_image = Tensor::empty({g.N, g.O, 1}, gy.dtype(), gy.device());
    reduce(ReduceOp::Sum, make_view(gy, {g.N, g.O, S}, {g.O * S, S, 1}, gy.offset()), {2}, per_image);
    const bool direct = gb.is_contiguous();
    Tensor gbc = direct ? gb : Tensor::empty(gb.shape(), gb.dtype(), gb.device());
    Tensor gb3 = make_view(gbc, {1, g.O, 1}, {g.O, 1, 1}, gbc.offset());
    reduce(ReduceOp::Sum, per_image, {0}, gb3);
    if (!direct) copy_device(gbc, gb);
  }
}

}  // namespace magmadnn::cuda
