// nn::summarize (see nn/summary.h): a forward observer records each leaf module's call.
#include "magmadnn/nn/summary.h"

#include <iomanip>
#include <map>
#include <set>
#include <sstream>

#include "magmadnn/autograd/autograd.h"
#include "magmadnn/nn/conv.h"
#include "magmadnn/nn/linear.h"

namespace magmadnn::nn {

namespace {

// Qualified names of every module of the tree ("" for the root).
void name_modules(const Module& m, const std::string& prefix, std::map<const Module*, std::string>& names) {
  names.emplace(&m, prefix);
  for (const auto& [n, child] : m.named_children()) name_modules(*child, prefix.empty() ? n : prefix + "." + n, names);
}

// Linear and Conv2d: every output element is a dot product over weight.numel() / out_features
// (in_features, or in_channels / groups * kH * kW) products.
int64_t macs_of(const Module& m, const Tensor& output) {
  const Tensor* w = nullptr;
  if (auto* l = dynamic_cast<const Linear*>(&m)) w = &l->weight();
  if (auto* c = dynamic_cast<const Conv2d*>(&m)) w = &c->weight();
  if (!w || !w->defined() || w->numel() == 0) return 0;
  return output.numel() * (w->numel() / w->size(0));
}

std::string with_commas(int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (v < 0 ? "-" : "") + out;
}

}  // namespace

ModelSummary summarize(Module& model, const Shape& input, DType dtype) {
  std::map<const Module*, std::string> names;
  name_modules(model, "", names);
  ModelSummary s;
  s.input = input;
  std::set<const TensorImpl*> counted;  // parameters shared between modules count once
  {
    ForwardObserverGuard observe([&](const Module& m, const Tensor&, const Tensor& y) {
      if (!m.named_children().empty()) return;  // containers: their leaves are listed
      LayerSummary row;
      auto it = names.find(&m);
      row.name = it != names.end() ? it->second : "(unregistered)";
      row.type = m.name();
      row.output = y.shape();
      for (const auto& [n, p] : m.named_parameters())
        if (counted.insert(p.impl_ptr().get()).second) row.parameters += p.numel();
      row.macs = macs_of(m, y);
      s.macs += row.macs;
      s.layers.push_back(std::move(row));
    });
    const bool was_training = model.is_training();
    model.eval();
    autograd::NoGradGuard no_grad;
    const Device device = model.parameters().empty() ? Device::cpu() : model.parameters().front().device();
    try {
      model(zeros(input, dtype, device));
    } catch (const Error& e) {
      model.train(was_training);
      MAGMADNN_ERROR("summary of ", model.name(), " for input ", input, ": ", e.what());
    }
    model.train(was_training);
  }
  for (const Tensor& p : model.parameters()) {
    s.parameters += p.numel();
    if (p.requires_grad()) s.trainable_parameters += p.numel();
    s.parameter_bytes += p.numel() * static_cast<int64_t>(p.element_size());
  }
  for (const Tensor& b : model.buffers()) s.parameter_bytes += b.numel() * static_cast<int64_t>(b.element_size());
  return s;
}

std::string ModelSummary::table() const {
  size_t name_w = 5, type_w = 4;
  for (const auto& l : layers) {
    name_w = std::max(name_w, l.name.size());
    type_w = std::max(type_w, std::min<size_t>(l.type.find('('), 24));
  }
  std::ostringstream os;
  auto line = [&](const std::string& a, const std::string& b, const std::string& c, const std::string& d,
                  const std::string& e) {
    os << std::left << std::setw(static_cast<int>(name_w) + 2) << a << std::setw(static_cast<int>(type_w) + 2) << b
       << std::setw(22) << c << std::right << std::setw(13) << d << std::setw(18) << e << "\n";
  };
  line("layer", "type", "output shape", "parameters", "MACs");
  os << std::string(name_w + type_w + 4 + 22 + 13 + 18, '-') << "\n";
  for (const auto& l : layers)
    line(l.name, l.type.substr(0, std::min(l.type.find('('), size_t(24))), l.output.str(), with_commas(l.parameters),
         l.macs ? with_commas(l.macs) : "");
  os << std::string(name_w + type_w + 4 + 22 + 13 + 18, '-') << "\n";
  os << "input " << input << "\n";
  os << "parameters " << with_commas(parameters) << " (" << with_commas(trainable_parameters) << " trainable), "
     << std::fixed << std::setprecision(2) << parameter_bytes / 1048576.0 << " MiB with buffers\n";
  os << "multiply-accumulates per forward pass " << with_commas(macs) << " (" << std::setprecision(3)
     << macs * 1e-9 << " GMACs)\n";
  return os.str();
}

}  // namespace magmadnn::nn
