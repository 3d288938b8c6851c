// CUDA fused optimizer updates over lists of parameters (the multi-tensor kernels of
// optim_multi.cu) against the CPU: 300 tensors of assorted sizes (0 and 1 elements, more than one
// 65536-element chunk, more than 2^20) so lists span several launches and tensors span several
// blocks and launches; every optimizer variant in float32 and float64; the optimizers on the GPU;
// the list checks. Skips without a GPU.
#include <functional>
#include <limits>

#include "cuda/cuda_test_util.h"

using namespace magmadnn;
using namespace cudatest;
using magmadnn::testing::error_of;
using ::testing::HasSubstr;

namespace {

// |got - want| <= tol * (1 + |want|) elementwise.
void expect_close(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
  cudatest::expect_close(got, want, tol, tol, what);
}

// 300 sizes: mostly small and odd, with 0, 1, block-chunk edges (8192 +- 1) and two over 2^20.
std::vector<int64_t> sizes() {
  std::vector<int64_t> s{0, 1, 8191, 8192, 8193, (1 << 20) + 3, 0, 1, 3 * 8192 + 7, (1 << 21) + 1, 65537};
  for (int k = 0; s.size() < 300; ++k) s.push_back(1 + (k * 7919) % 5000);
  return s;
}

double tol_for(DType dt) {
  return dt == kFloat64 ? 1e-12 : 1e-6;
}

// entries[k] = {param, grad, state...}; the same random values on both devices.
struct Lists {
  std::vector<std::vector<Tensor>> cpu, gpu;
};
Lists make_lists(DType dt, int n, const std::vector<bool>& positive) {
  Lists l;
  for (int64_t size : sizes()) {
    std::vector<Tensor> c, g;
    for (int j = 0; j < n; ++j) {
      Tensor t = randn({size}, dt);
      if (positive[j]) t = abs(t);
      c.push_back(t);
      g.push_back(t.to(kGpu));
    }
    l.cpu.push_back(c);
    l.gpu.push_back(g);
  }
  return l;
}

// Three steps with fresh gradients, `step(backend, entries, it)` on each device, then every tensor compared.
void check_parity(const std::string& name, DType dt, int n, const std::vector<bool>& positive,
                  const std::function<void(Backend&, std::vector<std::vector<Tensor>>&, int)>& step) {
  manual_seed(23);
  Lists l = make_lists(dt, n, positive);
  for (int it = 0; it < 3; ++it) {
    for (size_t k = 0; k < l.cpu.size(); ++k) {
      l.cpu[k][1] = randn(l.cpu[k][0].shape(), dt);
      l.gpu[k][1] = l.cpu[k][1].to(kGpu);
    }
    step(cpu(), l.cpu, it);
    step(gpu(), l.gpu, it);
  }
  for (size_t k = 0; k < l.cpu.size(); ++k)
    for (int j = 0; j < n; ++j)
      expect_close(
          l.gpu[k][j], l.cpu[k][j], tol_for(dt),
          name + " " + detail::str_cat(dt) + " entry " + std::to_string(k) + " tensor " + std::to_string(j));
}

Tensor use(const Tensor& t, bool on) {
  return on ? t : Tensor();
}

}  // namespace

TEST(CudaOptimGroup, EveryVariantMatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  for (DType dt : {kFloat32, kFloat64}) {
    for (int v = 0; v < 4; ++v) {  // plain, momentum + dampening, nesterov, momentum without weight decay
      const double momentum = v == 0 ? 0.0 : 0.9, wd = v == 3 ? 0.0 : 1e-3;
      const bool nesterov = v == 2;
      check_parity(
          "sgd v" + std::to_string(v), dt, 3, {false, false, false}, [&](Backend& b, auto& es, int it) {
            std::vector<SgdTensors> list;
            for (auto& e : es) list.push_back({e[0], e[1], use(e[2], momentum != 0)});
            b.sgd_step_group(list, SgdParams{0.1, momentum, nesterov ? 0.0 : 0.1, wd, nesterov, it == 0});
          });
    }
    for (bool amsgrad : {false, true})
      for (bool adamw : {false, true})
        check_parity(
            std::string(adamw ? "adamw" : "adam") + (amsgrad ? " amsgrad" : ""), dt, 5,
            {false, false, false, true, true}, [&](Backend& b, auto& es, int it) {
              std::vector<AdamTensors> list;
              for (auto& e : es) list.push_back({e[0], e[1], e[2], e[3], use(e[4], amsgrad)});
              b.adam_step_group(list, AdamParams{1e-2, 0.9, 0.999, 1e-8, 1e-2, adamw, amsgrad, it + 1});
            });
    check_parity("adagrad", dt, 3, {false, false, true}, [&](Backend& b, auto& es, int it) {
      std::vector<AdagradTensors> list;
      for (auto& e : es) list.push_back({e[0], e[1], e[2]});
      b.adagrad_step_group(list, AdagradParams{1e-2, 1e-3, 1e-4, 1e-10, it + 1});
    });
    for (bool centered : {false, true})
      for (double momentum : {0.0, 0.9})
        check_parity(
            std::string("rmsprop") + (centered ? " centered" : "") + (momentum > 0 ? " momentum" : ""), dt, 5,
            {false, false, true, false, false}, [&](Backend& b, auto& es, int) {
              std::vector<RmspropTensors> list;
              for (auto& e : es) {
                // grad_avg starts at zero, as in training (square_avg - grad_avg^2 >= 0)
                list.push_back({e[0], e[1], e[2], use(e[3], momentum > 0), use(e[4], centered)});
              }
              b.rmsprop_step_group(list, RmspropParams{1e-2, 0.99, 1e-8, 1e-4, momentum, centered});
            });
  }
}

// Each group list equals the single-tensor CUDA kernel on every entry (same per-element code).
TEST(CudaOptimGroup, ListMatchesSingleTensorKernels) {
  SKIP_WITHOUT_GPU();
  manual_seed(3);
  std::vector<Tensor> wa, wb, ma, mb, va, vb, grads;
  for (int64_t size : sizes()) {
    const Tensor w = randn({size}).to(kGpu);
    wa.push_back(w.clone());
    wb.push_back(w.clone());
    ma.push_back(zeros({size}, kFloat32, kGpu));
    mb.push_back(zeros({size}, kFloat32, kGpu));
    va.push_back(zeros({size}, kFloat32, kGpu));
    vb.push_back(zeros({size}, kFloat32, kGpu));
    grads.push_back(randn({size}).to(kGpu));
  }
  for (int it = 1; it <= 2; ++it) {
    const AdamParams p{1e-3, 0.9, 0.999, 1e-8, 0.0, false, false, it};
    std::vector<AdamTensors> list;
    for (size_t k = 0; k < wa.size(); ++k) list.push_back({wa[k], grads[k], ma[k], va[k], Tensor()});
    gpu().adam_step_group(list, p);
    Tensor none;
    for (size_t k = 0; k < wb.size(); ++k) gpu().adam_step(wb[k], grads[k], mb[k], vb[k], none, p);
  }
  for (size_t k = 0; k < wa.size(); ++k) {
    expect_close(wa[k].to(Device::cpu()), wb[k].to(Device::cpu()), 1e-7, "adam w " + std::to_string(k));
    expect_close(va[k].to(Device::cpu()), vb[k].to(Device::cpu()), 1e-7, "adam v " + std::to_string(k));
  }
}

// The optimizers on the GPU (one fused call per group) against the same optimizers on the CPU.
TEST(CudaOptimGroup, OptimizersOnTheGpuMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  const std::vector<int64_t> s = sizes();
  using Make = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)>;
  const std::vector<std::pair<std::string, Make>> makers{
      {"SGD",
       [](std::vector<Tensor> p) {
         return std::make_unique<optim::SGD>(
             p, optim::SGDOptions(0.1).momentum(0.9).nesterov(true).weight_decay(1e-4));
       }},
      {"AdamW",
       [](std::vector<Tensor> p) {
         return std::make_unique<optim::AdamW>(p, optim::AdamOptions(1e-2).amsgrad(true));
       }},
      {"Adagrad",
       [](std::vector<Tensor> p) {
         return std::make_unique<optim::Adagrad>(p, optim::AdagradOptions(0.1).lr_decay(1e-3));
       }},
      {"RMSprop",
       [](std::vector<Tensor> p) {
         return std::make_unique<optim::RMSprop>(p, optim::RMSpropOptions(1e-2).momentum(0.9).centered(true));
       }},
  };
  for (const auto& [name, make] : makers) {
    manual_seed(41);
    std::vector<Tensor> pc, pg;
    for (size_t k = 0; k < 120; ++k) {
      Tensor t = randn({s[k]});
      pc.push_back(t.clone().set_requires_grad());
      pg.push_back(t.to(kGpu).set_requires_grad());
    }
    auto oc = make(pc), og = make(pg);
    for (int it = 0; it < 3; ++it) {
      for (size_t k = 0; k < pc.size(); ++k) {
        if ((k + it) % 5 == 0) {  // some parameters skip a step: step counts differ in the group
          pc[k].zero_grad();
          pg[k].zero_grad();
          continue;
        }
        const Tensor g = randn({s[k]});
        pc[k].set_grad(g);
        pg[k].set_grad(g.to(kGpu));
      }
      oc->step();
      og->step();
    }
    for (size_t k = 0; k < pc.size(); ++k) {
      expect_close(pg[k].detach().to(Device::cpu()), pc[k].detach(), 1e-6,
                   name + " parameter " + std::to_string(k));
      EXPECT_EQ(og->step_count(0, k), oc->step_count(0, k)) << name;
    }
  }
}

TEST(CudaClipGrad, NormAndValueClippingMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  const std::vector<int64_t> s = sizes();
  for (double norm_type : {2.0, 1.0, 3.0, std::numeric_limits<double>::infinity()}) {
    manual_seed(43);
    std::vector<Tensor> pc, pg;
    for (size_t k = 0; k < 40; ++k) {
      Tensor t = zeros({s[k]});
      pc.push_back(t.clone().set_requires_grad());
      pg.push_back(t.to(kGpu).set_requires_grad());
      if (k % 7 == 3) continue;  // no gradient: skipped on both sides
      const Tensor g = randn({s[k]});
      pc.back().set_grad(g);
      pg.back().set_grad(g.to(kGpu));
    }
    const std::string what = "clip_grad_norm_ norm_type " + std::to_string(norm_type);
    const Tensor tc = nn::utils::clip_grad_norm_(pc, 1.5, norm_type);
    const Tensor tg = nn::utils::clip_grad_norm_(pg, 1.5, norm_type);
    EXPECT_EQ(tg.device(), kGpu) << what;
    expect_close(tg.to(Device::cpu()), tc, 1e-5, what + " total");
    for (size_t k = 0; k < pc.size(); ++k) {
      ASSERT_EQ(pg[k].grad().defined(), pc[k].grad().defined()) << what;
      if (pc[k].grad().defined()) expect_close(pg[k].grad().to(Device::cpu()), pc[k].grad(), 1e-5, what);
    }
    nn::utils::clip_grad_value_(pc, 1e-3);
    nn::utils::clip_grad_value_(pg, 1e-3);
    for (size_t k = 0; k < pc.size(); ++k)
      if (pc[k].grad().defined()) expect_close(pg[k].grad().to(Device::cpu()), pc[k].grad(), 0, "clip_grad_value_");
  }
}

TEST(CudaOptimGroup, ListChecks) {
  SKIP_WITHOUT_GPU();
  Tensor a = ones({3}, kFloat32, kGpu);
  std::vector<SgdTensors> mixed{{a, ones({3}, kFloat32, kGpu)}, {ones({2}), ones({2})}};
  EXPECT_THAT(
      error_of([&] {
        gpu().sgd_step_group(mixed, SgdParams{0.1, 0, 0, 0, false, false});
      }),
      HasSubstr("SGD: parameter 1 of 2, shape (2) is float32 on cpu, but parameter 0 is float32 on cuda:0"));
  std::vector<SgdTensors> on_cpu{{ones({2}), ones({2})}};
  EXPECT_THAT(error_of([&] {
                gpu().sgd_step_group(on_cpu, SgdParams{0.1, 0, 0, 0, false, false});
              }),
              HasSubstr("tensor is on cpu"));
  EXPECT_EQ(a.to(Device::cpu()).to_vector<float>(), (std::vector<float>{1, 1, 1}));  // nothing moved
  std::vector<SgdTensors> empty;
  gpu().sgd_step_group(empty, SgdParams{0.1, 0, 0, 0, false, false});
}
