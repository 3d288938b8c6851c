// optim::Optimizer: parameter groups, per-parameter state and the state dict shared by every
// optimizer.
#include "magmadnn/optim/optimizer.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "magmadnn/autograd/autograd.h"

namespace magmadnn::optim {

namespace {
Tensor scalar64(double v) {
  return full({1}, v, kFloat64);
}

double read_scalar(const Tensor& t) {
  return t.to(kFloat64).to_vector<double>()[0];
}

// Parses "<a>.<b>" prefixes of "state.<g>.<i>.<name>" / "group.<g>.lr"; false on anything else.
bool parse_index(const std::string& s, size_t& pos, size_t& value) {
  size_t end = s.find('.', pos);
  if (end == std::string::npos || end == pos) return false;
  for (size_t k = pos; k < end; ++k)
    if (s[k] < '0' || s[k] > '9') return false;
  value = std::stoul(s.substr(pos, end - pos));
  pos = end + 1;
  return true;
}
}  // namespace

void Optimizer::set_groups(std::vector<ParamGroup> groups) {
  MAGMADNN_CHECK(!groups.empty(), name(), ": got no parameter groups");
  std::set<const TensorImpl*> seen;
  size_t total = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    MAGMADNN_CHECK(groups[g].options->lr() >= 0, name(), ": invalid learning rate ", groups[g].options->lr(),
                   " in parameter group ", g);
    for (size_t i = 0; i < groups[g].params.size(); ++i) {
      const Tensor& p = groups[g].params[i];
      MAGMADNN_CHECK(p.defined(), name(), ": parameter ", i, " of group ", g, " is undefined");
      MAGMADNN_CHECK(is_floating(p.dtype()), name(), ": parameter ", i, " of group ", g,
                     " must be a floating tensor, got ", p.dtype());
      MAGMADNN_CHECK(p.is_leaf(), name(), ": parameter ", i, " of group ", g,
                     " is not a leaf tensor (it was computed by an op); optimize the tensor it came from");
      MAGMADNN_CHECK(seen.insert(p.impl_ptr().get()).second, name(), ": parameter ", i, " of group ", g,
                     " appears more than once across the parameter groups");
    }
    total += groups[g].params.size();
  }
  MAGMADNN_CHECK(total > 0, name(), ": got an empty parameter list");
  groups_ = std::move(groups);
  state_.assign(groups_.size(), {});
  for (size_t g = 0; g < groups_.size(); ++g) state_[g].resize(groups_[g].params.size());
}

void Optimizer::zero_grad() {
  for (auto& group : groups_)
    for (auto& p : group.params) p.zero_grad();
}

const OptimizerOptions& Optimizer::options(size_t group) const {
  MAGMADNN_CHECK(group < groups_.size(), name(), ": parameter group ", group, " out of range (",
                 groups_.size(), " groups)");
  return *groups_[group].options;
}

double Optimizer::lr(size_t group) const {
  return options(group).lr();
}

void Optimizer::set_lr(double lr) {
  for (size_t g = 0; g < groups_.size(); ++g) set_lr(g, lr);
}

void Optimizer::set_lr(size_t group, double lr) {
  options(group);  // range check
  MAGMADNN_CHECK(lr >= 0, name(), ": invalid learning rate ", lr);
  groups_[group].options->set_lr(lr);
}

int64_t Optimizer::step_count(size_t group, size_t index) const {
  MAGMADNN_CHECK(group < state_.size() && index < state_[group].size(), name(), ": no parameter ", index,
                 " in group ", group);
  return state_[group][index].step;
}

std::string Optimizer::replay_blocker() const {
  return name() + " does not declare that a captured step can be replayed";
}

void Optimizer::count_replayed_step() {
  for (auto& group : state_)
    for (ParamState& st : group)
      if (st.step > 0) ++st.step;
}

Tensor Optimizer::gradient_of(const Tensor& param, size_t group, size_t index) const {
  Tensor g = param.grad();
  if (!g.defined()) return g;
  MAGMADNN_CHECK(param.is_contiguous(), name(), ": parameter ", index, " of group ", group,
                 " must be contiguous for the fused update");
  MAGMADNN_CHECK(g.shape() == param.shape() && g.dtype() == param.dtype() && g.device() == param.device(),
                 name(), ": gradient of parameter ", index, " of group ", group, " is ", g.shape(), " ",
                 g.dtype(), " on ", g.device(), ", but the parameter is ", param.shape(), " ", param.dtype(),
                 " on ", param.device());
  return g.is_contiguous() ? g : g.contiguous();
}

Tensor& Optimizer::buffer(size_t group, size_t index, const std::string& name, double init_value) {
  auto& buffers = state_[group][index].buffers;
  auto it = buffers.find(name);
  if (it != buffers.end()) return it->second;
  const Tensor& p = groups_[group].params[index];
  return buffers.emplace(name, full(p.shape(), init_value, p.dtype(), p.device())).first->second;
}

std::map<std::string, Tensor> Optimizer::state_dict() const {
  NoGradGuard no_grad;
  std::map<std::string, Tensor> sd;
  for (size_t g = 0; g < groups_.size(); ++g) {
    sd.emplace("group." + std::to_string(g) + ".lr", scalar64(groups_[g].options->lr()));
    for (size_t i = 0; i < state_[g].size(); ++i) {
      const ParamState& st = state_[g][i];
      if (st.step == 0 && st.buffers.empty()) continue;
      const std::string prefix = "state." + std::to_string(g) + "." + std::to_string(i) + ".";
      sd.emplace(prefix + "step", scalar64(static_cast<double>(st.step)));
      for (const auto& [n, t] : st.buffers) sd.emplace(prefix + n, t.detach().clone());
    }
  }
  return sd;
}

void Optimizer::load_state_dict(const std::map<std::string, Tensor>& sd) {
  const std::vector<std::string> names = state_names();
  std::vector<std::string> problems;
  std::vector<double> lrs(groups_.size(), -1);
  // (group, index) -> parsed state
  std::map<std::pair<size_t, size_t>, ParamState> parsed;
  std::set<std::pair<size_t, size_t>> has_step;

  for (const auto& [key, t] : sd) {
    if (!t.defined()) {
      problems.push_back("key '" + key + "' holds an undefined tensor");
      continue;
    }
    size_t pos = 0, g = 0, i = 0;
    if (key.rfind("group.", 0) == 0) {
      pos = 6;
      if (!parse_index(key, pos, g) || key.substr(pos) != "lr") {
        problems.push_back("unexpected key '" + key + "'");
      } else if (g >= groups_.size()) {
        problems.push_back(
            detail::str_cat("key '", key, "': group ", g, " out of range (", groups_.size(), " groups)"));
      } else if (t.numel() != 1) {
        problems.push_back(detail::str_cat("key '", key, "': expected one element, got shape ", t.shape()));
      } else {
        lrs[g] = read_scalar(t);
        if (lrs[g] < 0)
          problems.push_back(detail::str_cat("key '", key, "': invalid learning rate ", lrs[g]));
      }
      continue;
    }
    if (key.rfind("state.", 0) != 0) {
      problems.push_back("unexpected key '" + key + "'");
      continue;
    }
    pos = 6;
    if (!parse_index(key, pos, g) || !parse_index(key, pos, i)) {
      problems.push_back("unexpected key '" + key + "'");
      continue;
    }
    if (g >= groups_.size() || i >= groups_[g].params.size()) {
      problems.push_back(detail::str_cat("key '", key, "': no parameter ", i, " in group ", g));
      continue;
    }
    const std::string field = key.substr(pos);
    const Tensor& p = groups_[g].params[i];
    if (field == "step") {
      has_step.insert({g, i});
      if (t.numel() != 1) {
        problems.push_back(detail::str_cat("key '", key, "': expected one element, got shape ", t.shape()));
      } else {
        parsed[{g, i}].step = static_cast<int64_t>(read_scalar(t));
      }
    } else if (std::find(names.begin(), names.end(), field) == names.end()) {
      problems.push_back("unexpected key '" + key + "' (" + name() + " keeps no state '" + field + "')");
    } else if (t.shape() != p.shape()) {
      problems.push_back(detail::str_cat("shape mismatch for '", key, "': expected ", p.shape(),
                                         " (parameter), got ", t.shape()));
    } else if (!is_floating(t.dtype())) {
      problems.push_back(
          detail::str_cat("dtype mismatch for '", key, "': expected a floating tensor, got ", t.dtype()));
    } else {
      parsed[{g, i}].buffers[field] = t;
    }
  }
  for (size_t g = 0; g < groups_.size(); ++g)
    if (lrs[g] < 0 && !sd.count("group." + std::to_string(g) + ".lr"))
      problems.push_back("missing key 'group." + std::to_string(g) + ".lr'");
  for (const auto& [gi, st] : parsed)
    if (!has_step.count(gi))
      problems.push_back(detail::str_cat("missing key 'state.", gi.first, ".", gi.second, ".step'"));

  throw_if_load_problems(name(), problems);

  NoGradGuard no_grad;
  for (size_t g = 0; g < groups_.size(); ++g) {
    groups_[g].options->set_lr(lrs[g]);
    for (auto& st : state_[g]) st = ParamState{};
  }
  for (auto& [gi, st] : parsed) {
    const Tensor& p = groups_[gi.first].params[gi.second];
    ParamState& dst = state_[gi.first][gi.second];
    dst.step = st.step;
    // Copies, converted to the parameter's dtype and device, so the dict stays independent.
    for (auto& [n, t] : st.buffers) {
      Tensor b = Tensor::empty(p.shape(), p.dtype(), p.device());
      b.copy_(t);
      dst.buffers.emplace(n, b);
    }
  }
}

}  // namespace magmadnn::optim
