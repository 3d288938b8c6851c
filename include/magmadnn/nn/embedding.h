// nn::Embedding: a lookup table of num_embeddings vectors of embedding_dim, indexed by int64
// tensors of any shape, with PyTorch's semantics (weight (num, dim) drawn from N(0, 1); with
// padding_idx that row starts at zero and never receives gradient).
#pragma once

#include <optional>

#include "magmadnn/nn/module.h"

namespace magmadnn::nn {

struct EmbeddingOptions {
  EmbeddingOptions(int64_t num_embeddings, int64_t embedding_dim)
      : num_embeddings_(num_embeddings), embedding_dim_(embedding_dim) {}
  // Negative values count from the end, as in PyTorch.
  EmbeddingOptions& padding_idx(int64_t v) {
    padding_idx_ = v;
    return *this;
  }
  int64_t num_embeddings() const { return num_embeddings_; }
  int64_t embedding_dim() const { return embedding_dim_; }
  const std::optional<int64_t>& padding_idx() const { return padding_idx_; }

 private:
  int64_t num_embeddings_, embedding_dim_;
  std::optional<int64_t> padding_idx_;
};

class Embedding : public Module {
 public:
  explicit Embedding(const EmbeddingOptions& options);
  Embedding(int64_t num_embeddings, int64_t embedding_dim)
      : Embedding(EmbeddingOptions(num_embeddings, embedding_dim)) {}

  // indices: int64 (...) in [0, num_embeddings) -> (..., embedding_dim)
  Tensor forward(const Tensor& indices) override;
  std::string name() const override;
  void reset_parameters();  // N(0, 1); the padding row zero

  const EmbeddingOptions& options() const { return options_; }
  Tensor& weight() { return weight_; }
  // The padding row after wrapping a negative padding_idx, or -1 without one.
  int64_t padding_row() const { return padding_row_; }

 private:
  EmbeddingOptions options_;
  int64_t padding_row_ = -1;
  Tensor weight_;
};

}  // namespace magmadnn::nn
