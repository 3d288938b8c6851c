// ONNX export (see export/onnx.h). Protocol-buffer encoding is written here by hand (ONNX's
// messages need only varints, 32-bit floats and length-delimited fields); the trace walks the
// module tree, running each layer on the example tensor as it emits that layer's nodes.
#include "magmadnn/export/onnx.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <set>

#include "magmadnn/autograd/autograd.h"
#include "magmadnn/core/version.h"
#include "magmadnn/io/atomic_file.h"
#include "magmadnn/models/resnet.h"
#include "magmadnn/nn/nn.h"
#include "magmadnn/ops/ops.h"

namespace magmadnn::onnx {

namespace {

// ---- protocol buffers: the wire format of onnx.proto (proto2) ---------------------------------

class Proto {
 public:
  void int_field(int field, int64_t v) {
    tag(field, 0);
    varint(static_cast<uint64_t>(v));
  }
  void float_field(int field, float v) {
    tag(field, 5);
    uint8_t b[4];
    std::memcpy(b, &v, 4);  // little-endian hosts only (x86-64, aarch64)
    buf_.insert(buf_.end(), b, b + 4);
  }
  void bytes_field(int field, const void* data, size_t n) {
    tag(field, 2);
    varint(n);
    const auto* p = static_cast<const uint8_t*>(data);
    buf_.insert(buf_.end(), p, p + n);
  }
  void string_field(int field, const std::string& s) { bytes_field(field, s.data(), s.size()); }
  void message_field(int field, const Proto& m) { bytes_field(field, m.buf_.data(), m.buf_.size()); }
  const std::vector<uint8_t>& bytes() const { return buf_; }

 private:
  void tag(int field, int wire_type) { varint(static_cast<uint64_t>(field) << 3 | static_cast<uint64_t>(wire_type)); }
  void varint(uint64_t v) {
    while (v >= 0x80) {
      buf_.push_back(static_cast<uint8_t>(v | 0x80));
      v >>= 7;
    }
    buf_.push_back(static_cast<uint8_t>(v));
  }
  std::vector<uint8_t> buf_;
};

// Field numbers and enum values of onnx.proto.
namespace field {
constexpr int kModelIrVersion = 1, kModelProducerName = 2, kModelProducerVersion = 3, kModelGraph = 7,
              kModelOpsetImport = 8, kModelMetadataProps = 14;
constexpr int kEntryKey = 1, kEntryValue = 2;
constexpr int kOpsetDomain = 1, kOpsetVersion = 2;
constexpr int kGraphNode = 1, kGraphName = 2, kGraphInitializer = 5, kGraphInput = 11, kGraphOutput = 12;
constexpr int kNodeInput = 1, kNodeOutput = 2, kNodeName = 3, kNodeOpType = 4, kNodeAttribute = 5;
constexpr int kAttrName = 1, kAttrF = 2, kAttrI = 3, kAttrInts = 8, kAttrType = 20;
constexpr int kTensorDims = 1, kTensorDataType = 2, kTensorName = 8, kTensorRawData = 9;
constexpr int kValueInfoName = 1, kValueInfoType = 2;
constexpr int kTypeTensor = 1, kTypeTensorElemType = 1, kTypeTensorShape = 2;
constexpr int kShapeDim = 1, kDimValue = 1, kDimParam = 2;
}  // namespace field
constexpr int kAttrTypeFloat = 1, kAttrTypeInt = 2, kAttrTypeInts = 7;
constexpr int kElemFloat = 1, kElemInt64 = 7;
constexpr int64_t kIrVersion = 7, kOpset = 13;

struct Attr {
  std::string name;
  int type;
  int64_t i = 0;
  float f = 0;
  std::vector<int64_t> ints;
};
Attr int_attr(const std::string& n, int64_t v) { return {n, kAttrTypeInt, v, 0, {}}; }
Attr float_attr(const std::string& n, double v) { return {n, kAttrTypeFloat, 0, static_cast<float>(v), {}}; }
Attr ints_attr(const std::string& n, std::vector<int64_t> v) { return {n, kAttrTypeInts, 0, 0, std::move(v)}; }

// ---- the graph under construction --------------------------------------------------------------

class Graph {
 public:
  // A float32 constant (parameters, buffers, folded constants); returns its name.
  std::string initializer(const std::string& name, const Tensor& value) {
    const Tensor t = value.detach().to(Device::cpu()).to(kFloat32).contiguous();
    Proto p;
    for (int64_t d : t.shape()) p.int_field(field::kTensorDims, d);
    p.int_field(field::kTensorDataType, kElemFloat);
    const std::string unique = fresh(name);
    p.string_field(field::kTensorName, unique);
    p.bytes_field(field::kTensorRawData, t.raw_data(), static_cast<size_t>(t.numel()) * sizeof(float));
    initializers_.push_back(std::move(p));
    return unique;
  }
  std::string scalar(const std::string& name, double v) { return initializer(name, full({}, v, kFloat32)); }
  // A 1-D int64 constant (Reshape's target shape).
  std::string int64_initializer(const std::string& name, const std::vector<int64_t>& values) {
    Proto p;
    p.int_field(field::kTensorDims, static_cast<int64_t>(values.size()));
    p.int_field(field::kTensorDataType, kElemInt64);
    const std::string unique = fresh(name);
    p.string_field(field::kTensorName, unique);
    p.bytes_field(field::kTensorRawData, values.data(), values.size() * sizeof(int64_t));
    initializers_.push_back(std::move(p));
    return unique;
  }

  // One node; returns the name of its (single) output.
  std::string node(const std::string& op, const std::vector<std::string>& inputs, const std::string& name,
                   const std::vector<Attr>& attrs = {}) {
    Proto p;
    for (const auto& in : inputs) p.string_field(field::kNodeInput, in);
    const std::string out = fresh(name.empty() ? op : name);
    p.string_field(field::kNodeOutput, out);
    p.string_field(field::kNodeName, out);
    p.string_field(field::kNodeOpType, op);
    for (const Attr& a : attrs) {
      Proto q;
      q.string_field(field::kAttrName, a.name);
      q.int_field(field::kAttrType, a.type);
      if (a.type == kAttrTypeInt) q.int_field(field::kAttrI, a.i);
      if (a.type == kAttrTypeFloat) q.float_field(field::kAttrF, a.f);
      for (int64_t v : a.ints) q.int_field(field::kAttrInts, v);
      p.message_field(field::kNodeAttribute, q);
    }
    nodes_.push_back(std::move(p));
    return out;
  }

  // Names are unique across nodes, initializers and the graph's input.
  std::string fresh(const std::string& hint) {
    const std::string base = hint.empty() ? "t" : hint;
    std::string name = base;
    for (int k = 1; used_.count(name); ++k) name = base + "_" + std::to_string(k);
    used_.insert(name);
    return name;
  }

  std::vector<uint8_t> model(const ExportOptions& o, const std::string& input, const Shape& input_shape,
                             const std::string& output, const Shape& output_shape) const {
    Proto g;
    for (const Proto& n : nodes_) g.message_field(field::kGraphNode, n);
    g.string_field(field::kGraphName, o.graph_name);
    for (const Proto& t : initializers_) g.message_field(field::kGraphInitializer, t);
    g.message_field(field::kGraphInput, value_info(input, input_shape));
    g.message_field(field::kGraphOutput, value_info(output, output_shape));
    Proto opset;
    opset.string_field(field::kOpsetDomain, "");
    opset.int_field(field::kOpsetVersion, kOpset);
    Proto m;
    m.int_field(field::kModelIrVersion, kIrVersion);
    m.string_field(field::kModelProducerName, o.producer);
    m.string_field(field::kModelProducerVersion, version());
    m.message_field(field::kModelGraph, g);
    m.message_field(field::kModelOpsetImport, opset);
    for (const auto& [key, value] : o.metadata) {
      Proto entry;
      entry.string_field(field::kEntryKey, key);
      entry.string_field(field::kEntryValue, value);
      m.message_field(field::kModelMetadataProps, entry);
    }
    return m.bytes();
  }

 private:
  // A float tensor whose first dimension is the symbolic batch size "N".
  static Proto value_info(const std::string& name, const Shape& shape) {
    Proto shape_proto;
    for (int64_t d = 0; d < shape.dim(); ++d) {
      Proto dim;
      if (d == 0) dim.string_field(field::kDimParam, "N");
      else dim.int_field(field::kDimValue, shape[d]);
      shape_proto.message_field(field::kShapeDim, dim);
    }
    Proto tensor_type;
    tensor_type.int_field(field::kTypeTensorElemType, kElemFloat);
    tensor_type.message_field(field::kTypeTensorShape, shape_proto);
    Proto type;
    type.message_field(field::kTypeTensor, tensor_type);
    Proto v;
    v.string_field(field::kValueInfoName, name);
    v.message_field(field::kValueInfoType, type);
    return v;
  }

  std::vector<Proto> nodes_, initializers_;
  std::set<std::string> used_;
};

// ---- the trace -----------------------------------------------------------------------------------

// A value of the graph: its name there and the tensor the real forward pass gave.
struct Value {
  std::string name;
  Tensor tensor;
};

std::string join(const std::string& path, const std::string& child) { return path.empty() ? child : path + "." + child; }

std::vector<int64_t> pads_of(Size2 p) { return {p.h, p.w, p.h, p.w}; }

// ONNX's pooling output size (floor or ceil of (in + 2 pad - kernel) / stride, plus one); PyTorch's
// ceil mode drops a last window that would start in the right padding, ONNX's does not.
int64_t onnx_pool_size(int64_t in, int64_t k, int64_t s, int64_t p, bool ceil_mode) {
  const int64_t span = in + 2 * p - k;
  return (ceil_mode ? (span + s - 1) / s : span / s) + 1;
}

template <typename Layer>
bool is(const nn::Module& m) {
  return dynamic_cast<const Layer*>(&m) != nullptr;
}

class Tracer {
 public:
  explicit Tracer(Graph& g) : g_(g) {}

  Value emit(nn::Module& m, const Value& x, const std::string& path) {
    if (auto* seq = dynamic_cast<nn::Sequential*>(&m)) {
      Value v = x;
      for (const auto& [name, child] : seq->named_children()) v = emit(*child, v, join(path, name));
      return v;
    }
    if (auto* block = dynamic_cast<models::BasicBlock*>(&m)) return basic_block(*block, x, path);
    if (auto* resnet = dynamic_cast<models::ResNet*>(&m)) {
      Value v = emit(resnet->stem(), x, join(path, "stem"));
      v = emit(resnet->layers(), v, join(path, "layers"));
      v = {g_.node("GlobalAveragePool", {v.name}, join(path, "pool")), adaptive_avg_pool2d(v.tensor, Size2(1))};
      v = {g_.node("Flatten", {v.name}, join(path, "flatten"), {int_attr("axis", 1)}), v.tensor.flatten(1)};
      return emit(resnet->fc(), v, join(path, "fc"));
    }
    // A leaf: found before running the layer, whose own input checks would otherwise speak first.
    const auto& forms = leaf_forms();
    const auto form = std::find_if(forms.begin(), forms.end(), [&](const LeafForm& f) { return f.matches(m); });
    if (form == forms.end()) {
      std::string names;
      for (const LeafForm& f : forms) names += std::string(f.name) + ", ";
      MAGMADNN_ERROR("export_onnx: ", path.empty() ? "the model" : "layer '" + path + "'", " (", m.name(),
                     ") has no ONNX form; supported: Sequential, ", names, "and the model zoo's ResNet");
    }
    const Tensor y = m(x.tensor);  // the layer's real output: shapes for the checks in the emitters
    return {form->emit(*this, m, x, y, path), y};
  }

 private:
  // A leaf layer with an ONNX form: its type test and its emitter, which returns the output's
  // name (y: the layer's real output).
  struct LeafForm {
    const char* name;
    bool (*matches)(const nn::Module&);
    std::function<std::string(Tracer&, nn::Module&, const Value& x, const Tensor& y, const std::string& path)> emit;
  };
  static const std::vector<LeafForm>& leaf_forms() {
    using M = nn::Module;
    static const std::vector<LeafForm> forms = {
        {"Linear", is<nn::Linear>,
         [](Tracer& t, M& m, const Value& x, const Tensor&, const std::string& p) {
           return t.linear(static_cast<nn::Linear&>(m), x, p);
         }},
        {"Conv2d", is<nn::Conv2d>,
         [](Tracer& t, M& m, const Value& x, const Tensor&, const std::string& p) {
           return t.conv2d(static_cast<nn::Conv2d&>(m), x, p);
         }},
        {"BatchNorm1d/2d", is<nn::BatchNormBase>,
         [](Tracer& t, M& m, const Value& x, const Tensor&, const std::string& p) {
           return t.batch_norm(static_cast<nn::BatchNormBase&>(m), x, p);
         }},
        {"MaxPool2d", is<nn::MaxPool2d>,
         [](Tracer& t, M& m, const Value& x, const Tensor& y, const std::string& p) {
           return t.max_pool(static_cast<nn::MaxPool2d&>(m), x, y, p);
         }},
        {"AvgPool2d", is<nn::AvgPool2d>,
         [](Tracer& t, M& m, const Value& x, const Tensor& y, const std::string& p) {
           return t.avg_pool(static_cast<nn::AvgPool2d&>(m), x, y, p);
         }},
        {"AdaptiveAvgPool2d", is<nn::AdaptiveAvgPool2d>,
         [](Tracer& t, M& m, const Value& x, const Tensor&, const std::string& p) {
           return t.adaptive_pool(static_cast<nn::AdaptiveAvgPool2d&>(m), x, p);
         }},
        {"LayerNorm", is<nn::LayerNorm>,
         [](Tracer& t, M& m, const Value& x, const Tensor&, const std::string& p) {
           return t.layer_norm(static_cast<nn::LayerNorm&>(m), x, p);
         }},
        {"GroupNorm", is<nn::GroupNorm>,
         [](Tracer& t, M& m, const Value& x, const Tensor&, const std::string& p) {
           return t.group_norm(static_cast<nn::GroupNorm&>(m), x, p);
         }},
        {"ReLU", is<nn::ReLU>,
         [](Tracer& t, M&, const Value& x, const Tensor&, const std::string& p) { return t.g_.node("Relu", {x.name}, p); }},
        {"LeakyReLU", is<nn::LeakyReLU>,
         [](Tracer& t, M& m, const Value& x, const Tensor&, const std::string& p) {
           return t.g_.node("LeakyRelu", {x.name}, p,
                            {float_attr("alpha", static_cast<nn::LeakyReLU&>(m).negative_slope())});
         }},
        {"Sigmoid", is<nn::Sigmoid>,
         [](Tracer& t, M&, const Value& x, const Tensor&, const std::string& p) {
           return t.g_.node("Sigmoid", {x.name}, p);
         }},
        {"Tanh", is<nn::Tanh>,
         [](Tracer& t, M&, const Value& x, const Tensor&, const std::string& p) { return t.g_.node("Tanh", {x.name}, p); }},
        {"GELU", is<nn::GELU>,
         [](Tracer& t, M&, const Value& x, const Tensor&, const std::string& p) { return t.gelu(x, p); }},
        {"Softmax", is<nn::Softmax>,
         [](Tracer& t, M& m, const Value& x, const Tensor&, const std::string& p) {
           return t.g_.node("Softmax", {x.name}, p, {int_attr("axis", static_cast<nn::Softmax&>(m).dim())});
         }},
        {"LogSoftmax", is<nn::LogSoftmax>,
         [](Tracer& t, M& m, const Value& x, const Tensor&, const std::string& p) {
           return t.g_.node("LogSoftmax", {x.name}, p, {int_attr("axis", static_cast<nn::LogSoftmax&>(m).dim())});
         }},
        {"Flatten", is<nn::Flatten>,
         [](Tracer& t, M& m, const Value& x, const Tensor&, const std::string& p) {
           return t.flatten(static_cast<nn::Flatten&>(m), x, p);
         }},
        {"Rescaling", is<nn::Rescaling>,
         [](Tracer& t, M& m, const Value& x, const Tensor&, const std::string& p) {
           return t.rescaling(static_cast<nn::Rescaling&>(m), x, p);
         }},
        // Dropout in evaluation mode and Identity pass their input on.
        {"Dropout", is<nn::Dropout>, [](Tracer&, M&, const Value& x, const Tensor&, const std::string&) { return x.name; }},
        {"Identity", is<nn::Identity>,
         [](Tracer&, M&, const Value& x, const Tensor&, const std::string&) { return x.name; }},
    };
    return forms;
  }

  // x * scale + offset along dimension 1: the (K,) buffers as (K, 1, ...) to broadcast over x's rank.
  std::string rescaling(nn::Rescaling& r, const Value& x, const std::string& path) {
    std::vector<int64_t> shape(static_cast<size_t>(x.tensor.dim() - 1), 1);
    shape[0] = r.scale().numel();
    const std::string scale = g_.initializer(join(path, "scale"), r.scale().to(kFloat32).reshape(Shape(shape)));
    const std::string offset = g_.initializer(join(path, "offset"), r.offset().to(kFloat32).reshape(Shape(shape)));
    return g_.node("Add", {g_.node("Mul", {x.name, scale}, path + ".mul"), offset}, path);
  }

  std::string gelu(const Value& x, const std::string& path) {  // x * 0.5 * (1 + erf(x / sqrt(2))); Gelu is opset 20
    const std::string e =
        g_.node("Erf", {g_.node("Div", {x.name, g_.scalar(path + ".sqrt2", std::sqrt(2.0))}, path + ".div")}, path + ".erf");
    const std::string one_plus = g_.node("Add", {e, g_.scalar(path + ".one", 1.0)}, path + ".add");
    const std::string half = g_.node("Mul", {one_plus, g_.scalar(path + ".half", 0.5)}, path + ".half_mul");
    return g_.node("Mul", {x.name, half}, path);
  }

  std::string linear(nn::Linear& l, const Value& x, const std::string& path) {
    // Gemm on (N, in); MatMul + Add keeps any leading dimensions.
    if (x.tensor.dim() == 2) {
      std::vector<std::string> in{x.name, g_.initializer(join(path, "weight"), l.weight())};
      if (l.bias().defined()) in.push_back(g_.initializer(join(path, "bias"), l.bias()));
      return g_.node("Gemm", in, path, {int_attr("transB", 1)});
    }
    const std::string w = g_.initializer(join(path, "weight_t"), l.weight().transpose(0, 1));
    std::string y = g_.node("MatMul", {x.name, w}, l.bias().defined() ? path + ".matmul" : path);
    if (l.bias().defined()) y = g_.node("Add", {y, g_.initializer(join(path, "bias"), l.bias())}, path);
    return y;
  }

  std::string conv2d(nn::Conv2d& c, const Value& x, const std::string& path) {
    const nn::Conv2dOptions& o = c.options();
    const Conv2dArgs& a = o.args();
    MAGMADNN_CHECK(a.padding_mode == PaddingMode::Zeros, "export_onnx: layer '", path, "' (", c.name(),
                   ") pads circularly, which ONNX's Conv cannot");
    std::vector<std::string> in{x.name, g_.initializer(join(path, "weight"), c.weight())};
    if (c.bias().defined()) in.push_back(g_.initializer(join(path, "bias"), c.bias()));
    const std::string y = g_.node(
        "Conv", in, c.fused_relu() ? path + ".conv" : path,
        {ints_attr("kernel_shape", {o.kernel_size().h, o.kernel_size().w}), ints_attr("strides", {a.stride.h, a.stride.w}),
         ints_attr("pads", pads_of(a.padding)), ints_attr("dilations", {a.dilation.h, a.dilation.w}),
         int_attr("group", a.groups)});
    return c.fused_relu() ? g_.node("Relu", {y}, path) : y;
  }

  std::string batch_norm(nn::BatchNormBase& bn, const Value& x, const std::string& path) {
    const nn::BatchNormOptions& o = bn.options();
    MAGMADNN_CHECK(o.track_running_stats(), "export_onnx: layer '", path, "' (", bn.name(),
                   ") keeps no running statistics, so inference normalises by the batch; ONNX's "
                   "BatchNormalization needs them");
    const int64_t c = o.num_features();
    const std::string scale = g_.initializer(join(path, "weight"), o.affine() ? bn.weight() : ones({c}));
    const std::string shift = g_.initializer(join(path, "bias"), o.affine() ? bn.bias() : zeros({c}));
    return g_.node("BatchNormalization",
                   {x.name, scale, shift, g_.initializer(join(path, "running_mean"), bn.running_mean()),
                    g_.initializer(join(path, "running_var"), bn.running_var())},
                   path, {float_attr("epsilon", o.eps())});
  }

  // The attributes both poolings share, checked against the output the layer really produced.
  std::vector<Attr> pool_attrs(const nn::Pool2dOptions& o, const Tensor& x, const Tensor& y, const std::string& path,
                               const std::string& layer) {
    const Size2 k = o.kernel_size(), s = o.stride().value_or(k), p = o.padding();
    MAGMADNN_CHECK(onnx_pool_size(x.size(2), k.h, s.h, p.h, o.ceil_mode()) == y.size(2) &&
                       onnx_pool_size(x.size(3), k.w, s.w, p.w, o.ceil_mode()) == y.size(3),
                   "export_onnx: layer '", path, "' (", layer, ") on input ", x.shape(), " gives ", y.shape(),
                   "; ONNX's ceil mode would add a window that starts in the padding");
    return {ints_attr("kernel_shape", {k.h, k.w}), ints_attr("strides", {s.h, s.w}), ints_attr("pads", pads_of(p)),
            int_attr("ceil_mode", o.ceil_mode() ? 1 : 0)};
  }

  std::string max_pool(nn::MaxPool2d& m, const Value& x, const Tensor& y, const std::string& path) {
    return g_.node("MaxPool", {x.name}, path, pool_attrs(m.options(), x.tensor, y, path, m.name()));
  }

  std::string avg_pool(nn::AvgPool2d& m, const Value& x, const Tensor& y, const std::string& path) {
    // PyTorch divides ceil-mode edge windows differently from ONNX's AveragePool.
    MAGMADNN_CHECK(!m.options().ceil_mode(), "export_onnx: layer '", path, "' (", m.name(),
                   "): ceil_mode average pooling has no exact ONNX form");
    std::vector<Attr> attrs = pool_attrs(m.options(), x.tensor, y, path, m.name());
    attrs.push_back(int_attr("count_include_pad", m.options().count_include_pad() ? 1 : 0));
    return g_.node("AveragePool", {x.name}, path, attrs);
  }

  std::string adaptive_pool(nn::AdaptiveAvgPool2d& m, const Value& x, const std::string& path) {
    const Size2 out = m.output_size();
    const int64_t h = x.tensor.size(2), w = x.tensor.size(3);
    if (out.h == 1 && out.w == 1) return g_.node("GlobalAveragePool", {x.name}, path);
    MAGMADNN_CHECK(h % out.h == 0 && w % out.w == 0, "export_onnx: layer '", path, "' (", m.name(), ") on ", h, "x",
                   w, " inputs has windows of different sizes, which ONNX's AveragePool cannot express");
    const int64_t kh = h / out.h, kw = w / out.w;
    return g_.node("AveragePool", {x.name}, path,
                   {ints_attr("kernel_shape", {kh, kw}), ints_attr("strides", {kh, kw})});
  }

  // (x - mean) / sqrt(var + eps) over `axes` (biased variance, as both norms use); opset 13 has
  // no LayerNormalization (17) or GroupNormalization (18), so they are composed.
  std::string standardise(const std::string& x, const std::vector<int64_t>& axes, double eps,
                          const std::string& path) {
    const std::vector<Attr> reduce{ints_attr("axes", axes), int_attr("keepdims", 1)};
    const std::string centred =
        g_.node("Sub", {x, g_.node("ReduceMean", {x}, path + ".mean", reduce)}, path + ".centred");
    const std::string var =
        g_.node("ReduceMean", {g_.node("Mul", {centred, centred}, path + ".square")}, path + ".var", reduce);
    const std::string denom =
        g_.node("Sqrt", {g_.node("Add", {var, g_.scalar(path + ".eps", eps)}, path + ".var_eps")}, path + ".std");
    return g_.node("Div", {centred, denom}, path + ".normalised");
  }

  // out * weight + bias, where present.
  std::string affine(const std::string& x, const Tensor& weight, const Tensor& bias, const std::string& path) {
    if (!weight.defined()) return x;
    const std::string scaled = g_.node("Mul", {x, g_.initializer(join(path, "weight"), weight)}, path + ".scaled");
    return g_.node("Add", {scaled, g_.initializer(join(path, "bias"), bias)}, path);
  }

  std::string layer_norm(nn::LayerNorm& ln, const Value& x, const std::string& path) {
    const int64_t k = ln.options().normalized_shape().dim();
    std::vector<int64_t> axes;
    for (int64_t a = -k; a < 0; ++a) axes.push_back(a);
    const std::string y = standardise(x.name, axes, ln.options().eps(), path);
    return ln.options().elementwise_affine() ? affine(y, ln.weight(), ln.bias(), path) : y;
  }

  std::string group_norm(nn::GroupNorm& gn, const Value& x, const std::string& path) {
    // (N, C, ...) -> (N, G, rest) -> standardised over the last axis -> (N, C, ...) -> per-channel affine.
    const Shape& s = x.tensor.shape();
    std::vector<int64_t> back{0};
    for (int64_t d = 1; d < s.dim(); ++d) back.push_back(s[d]);
    const std::string grouped = g_.node(
        "Reshape", {x.name, g_.int64_initializer(path + ".grouped_shape", {0, gn.options().num_groups(), -1})},
        path + ".grouped");
    const std::string y = g_.node(
        "Reshape", {standardise(grouped, {2}, gn.options().eps(), path), g_.int64_initializer(path + ".shape", back)},
        gn.options().affine() ? path + ".ungrouped" : path);
    if (!gn.options().affine()) return y;
    Shape per_channel({s[1]});  // (C, 1, ..., 1): broadcasts over the spatial axes
    for (int64_t d = 2; d < s.dim(); ++d) per_channel.push_back(1);
    return affine(y, gn.weight().reshape(per_channel), gn.bias().reshape(per_channel), path);
  }

  std::string flatten(nn::Flatten& f, const Value& x, const std::string& path) {
    const int64_t rank = x.tensor.dim();
    const int64_t end = f.end_dim() < 0 ? f.end_dim() + rank : f.end_dim();
    MAGMADNN_CHECK(f.start_dim() == 1 && end == rank - 1, "export_onnx: layer '", path, "' (", f.name(),
                   "): only Flatten(1, -1) is exported");
    return rank == 2 ? x.name : g_.node("Flatten", {x.name}, path, {int_attr("axis", 1)});
  }

  Value basic_block(models::BasicBlock& b, const Value& x, const std::string& path) {
    // The block's forward: conv1 (bn1, relu unless fused), conv2 (bn2 unless fused), + shortcut, relu.
    Value y = emit(b.conv1(), x, join(path, "conv1"));
    if (!b.fused()) {
      y = emit(b.bn1(), y, join(path, "bn1"));
      y = {g_.node("Relu", {y.name}, join(path, "relu1")), relu(y.tensor)};
    }
    y = emit(b.conv2(), y, join(path, "conv2"));
    if (!b.fused()) y = emit(b.bn2(), y, join(path, "bn2"));
    const Value skip = b.shortcut().empty() ? x : emit(b.shortcut(), x, join(path, "shortcut"));
    const Tensor sum = add(y.tensor, skip.tensor);
    const std::string added = g_.node("Add", {y.name, skip.name}, join(path, "add"));
    return {g_.node("Relu", {added}, join(path, "relu")), relu(sum)};
  }

  Graph& g_;
};

}  // namespace

std::vector<uint8_t> serialize_onnx(nn::Module& model, const Shape& input_shape, const ExportOptions& options) {
  MAGMADNN_CHECK(input_shape.dim() >= 2 && input_shape[0] > 0, "export_onnx: the example input shape ", input_shape,
                 " needs a batch dimension and at least one more");
  for (const Tensor& p : model.parameters())
    MAGMADNN_CHECK(p.device().is_cpu() && p.dtype() == kFloat32, "export_onnx: the model must hold float32 CPU ",
                   "parameters (call model.to(Device::cpu()) first), found ", p.dtype(), " on ", p.device());
  MAGMADNN_CHECK(options.input_mean.size() == options.input_std.size(), "export_onnx: ", options.input_mean.size(),
                 " input means but ", options.input_std.size(), " standard deviations");
  Graph g;
  const std::string input = g.fresh("input");
  Value x{input, zeros(input_shape)};
  if (!options.input_mean.empty()) {  // (x - mean) / std per channel, broadcast over (C, 1, ..., 1)
    const int64_t c = static_cast<int64_t>(options.input_mean.size());
    MAGMADNN_CHECK(c == 1 || c == input_shape[1], "export_onnx: ", c, " normalisation values for inputs ",
                   input_shape, " with ", input_shape[1], " channels");
    Shape cshape({c});
    for (int64_t d = 2; d < input_shape.dim(); ++d) cshape.push_back(1);
    const std::string mean = g.initializer("input_mean", from_vector<double>(options.input_mean, cshape));
    const std::string std = g.initializer("input_std", from_vector<double>(options.input_std, cshape));
    x.name = g.node("Div", {g.node("Sub", {input, mean}, "input_centred"), std}, "input_normalised");
  }
  autograd::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  Value y;
  try {
    y = Tracer(g).emit(model, x, "");
  } catch (...) {
    model.train(was_training);
    throw;
  }
  model.train(was_training);
  // The output must be a node's: a model that returns its input unchanged gets an Identity.
  const std::string output = y.name == input ? g.node("Identity", {input}, "output") : y.name;
  return g.model(options, input, input_shape, output, y.tensor.shape());
}

void export_onnx(nn::Module& model, const Shape& input_shape, const std::string& path, const ExportOptions& options) {
  const std::vector<uint8_t> bytes = serialize_onnx(model, input_shape, options);
  io::write_file_atomic(path, std::string(bytes.begin(), bytes.end()), "export_onnx");
}

}  // namespace magmadnn::onnx
