// nn::Embedding: the table, PyTorch's initialisation, and the lookup as index_select (whose
// backward adds each upstream row into the table row it came from).
#include "magmadnn/nn/embedding.h"

#include "magmadnn/autograd/autograd.h"
#include "magmadnn/nn/init.h"
#include "magmadnn/ops/ops.h"

namespace magmadnn::nn {

Embedding::Embedding(const EmbeddingOptions& o) : options_(o) {
  const int64_t n = o.num_embeddings(), d = o.embedding_dim();
  MAGMADNN_CHECK(n > 0 && d > 0, "Embedding: num_embeddings and embedding_dim must be positive, got ", n,
                 " and ", d);
  if (o.padding_idx()) {
    const int64_t p = *o.padding_idx();
    MAGMADNN_CHECK(p >= -n && p < n, "Embedding(", n, ", ", d, "): padding_idx ", p, " is out of range [", -n,
                   ", ", n, ")");
    padding_row_ = p < 0 ? p + n : p;
  }
  weight_ = register_parameter("weight", Tensor::empty({n, d}));
  reset_parameters();
}

void Embedding::reset_parameters() {
  NoGradGuard no_grad;
  init::normal_(weight_, 0.0, 1.0);
  if (padding_row_ >= 0) weight_.slice(0, padding_row_, padding_row_ + 1).fill_(0.0);
}

std::string Embedding::name() const {
  return detail::str_cat("Embedding(", options_.num_embeddings(), ", ", options_.embedding_dim(),
                         padding_row_ >= 0 ? detail::str_cat(", padding_idx=", padding_row_) : std::string(),
                         ")");
}

Tensor Embedding::forward(const Tensor& indices) {
  MAGMADNN_CHECK(
      indices.defined() && indices.dtype() == kInt64, name(), ": expected int64 indices, got ",
      indices.defined() ? detail::str_cat(indices.dtype(), " of shape ", indices.shape()) : "none");
  std::vector<int64_t> shape(indices.shape().begin(), indices.shape().end());
  shape.push_back(options_.embedding_dim());
  const Tensor flat = indices.reshape({-1});
  Tensor rows = index_select(weight_, 0, flat);  // (n, dim); index_select checks the range
  if (padding_row_ >= 0) {
    // The looked-up rows pass through where the index is not padding_idx and through their
    // detached copy (the same values) where it is: no gradient reaches the padding row, as in
    // PyTorch, and the table is read once.
    const Tensor is_pad =
        eq(flat.to(kFloat64), full({}, static_cast<double>(padding_row_), kFloat64, flat.device()))
            .to(weight_.dtype())
            .reshape({-1, 1});  // (n, 1): 1 where padding
    rows = add(mul(rows, sub(ones_like(is_pad), is_pad)), mul(rows.detach(), is_pad));
  }
  return rows.reshape(Shape(shape));
}

}  // namespace magmadnn::nn
