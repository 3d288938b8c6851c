// Ising data sets in NumPy files, folder or .npz (see ising/dataset.h). Loading checks every
// array against the others before building the graph, so a mismatched set fails with one line.
#include "magmadnn/ising/dataset.h"

#include <sys/stat.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>

#include "magmadnn/core/error.h"
#include "magmadnn/io/numpy.h"

namespace magmadnn::ising {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Tensor IsingDataset::spins_tensor() const {
  const int64_t n = size(), nodes = num_nodes();
  Tensor t = sample_shape.size() == 2 ? Tensor::empty(Shape({n, 1, sample_shape[0], sample_shape[1]}), kFloat32)
                                      : Tensor::empty(Shape({n, nodes, 1}), kFloat32);
  float* p = t.data<float>();
  for (int64_t i = 0; i < n * nodes; ++i) p[i] = static_cast<float>(spins[i]);
  return t;
}

Tensor IsingDataset::energies_tensor(DType dtype) const {
  Tensor t = Tensor::empty(Shape({size()}), dtype);
  dispatch_float(dtype, "IsingDataset::energies_tensor", [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (int64_t i = 0; i < size(); ++i) p[i] = static_cast<T>(energies[i]);
  });
  return t;
}

IsingDataset make_ising_dataset(const Graph& graph, std::vector<int8_t> spins, std::vector<double> energies,
                                std::vector<double> temperatures) {
  const int64_t nodes = graph.num_nodes;
  MAGMADNN_CHECK(nodes > 0 && spins.size() % nodes == 0, "make_ising_dataset: ", spins.size(),
                 " spins are not a whole number of ", nodes, "-node configurations");
  const int64_t n = static_cast<int64_t>(spins.size()) / nodes;
  check_spins(spins.data(), n * nodes, "make_ising_dataset");
  if (energies.empty() && n > 0) energies = ising::energies(graph, spins.data(), n);
  MAGMADNN_CHECK(static_cast<int64_t>(energies.size()) == n, "make_ising_dataset: ", n, " configurations but ",
                 energies.size(), " energies");
  MAGMADNN_CHECK(temperatures.empty() || static_cast<int64_t>(temperatures.size()) == n, "make_ising_dataset: ", n,
                 " configurations but ", temperatures.size(), " temperatures");
  IsingDataset d;
  d.graph = graph;
  d.sample_shape = graph.kind == LatticeKind::Square ? std::vector<int64_t>{graph.side, graph.side}
                                                     : std::vector<int64_t>{nodes};
  d.spins = std::move(spins);
  d.energies = std::move(energies);
  d.temperatures = std::move(temperatures);
  return d;
}

IsingDataset load_ising_dataset(const std::string& path, bool verify) {
  const char* op = "load_ising_dataset";
  std::map<std::string, io::NpyArray> arrays;
  struct stat st {};
  const bool is_dir = ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  if (is_dir) {
    for (const char* name : {"spins", "energies", "edges", "couplings", "temperatures"}) {
      const std::string file = path + "/" + name + ".npy";
      if (std::filesystem::exists(file)) arrays[name] = io::load_npy(file);
    }
  } else if (ends_with(path, ".npz")) {
    arrays = io::load_npz(path);
  } else {
    MAGMADNN_CHECK(::stat(path.c_str(), &st) == 0, op, ": ", path, ": no such folder or .npz file");
    MAGMADNN_ERROR(op, ": ", path, ": expected a folder of .npy files or a .npz archive");
  }
  const char* where = is_dir ? " in the folder" : " in the archive";
  for (const char* name : {"spins", "energies"})
    MAGMADNN_CHECK(arrays.count(name), op, ": ", path, ": missing '", name, ".npy'", where);
  const io::NpyArray& spins = arrays["spins"];
  const io::NpyArray& en = arrays["energies"];
  MAGMADNN_CHECK(spins.dtype == "i1", op, ": ", path, ": spins must be int8 (i1), got ", spins.dtype);
  MAGMADNN_CHECK(spins.shape.size() == 2 || spins.shape.size() == 3, op, ": ", path,
                 ": spins must have shape (N, L, L) or (N, nodes), got ", io::shape_str(spins.shape));
  MAGMADNN_CHECK(en.dtype == "f8" && en.shape.size() == 1, op, ": ", path,
                 ": energies must be float64 of shape (N,), got ", en.dtype, " ", io::shape_str(en.shape));
  const int64_t n = spins.shape[0];
  MAGMADNN_CHECK(en.shape[0] == n, op, ": ", path, ": ", n, " spin configurations but ", en.shape[0], " energies");
  const bool square = spins.shape.size() == 3;
  MAGMADNN_CHECK(!square || spins.shape[1] == spins.shape[2], op, ": ", path,
                 ": square-lattice spins must be (N, L, L), got ", io::shape_str(spins.shape));
  const int64_t nodes = square ? spins.shape[1] * spins.shape[2] : spins.shape[1];
  MAGMADNN_CHECK(nodes >= 1, op, ": ", path, ": spins have no nodes: ", io::shape_str(spins.shape));

  Graph g;
  const bool has_edges = arrays.count("edges"), has_couplings = arrays.count("couplings");
  MAGMADNN_CHECK(has_edges == has_couplings, op, ": ", path, ": '", has_edges ? "edges" : "couplings",
                 ".npy' present without '", has_edges ? "couplings" : "edges", ".npy'");
  if (has_edges) {
    const io::NpyArray& e = arrays["edges"];
    const io::NpyArray& c = arrays["couplings"];
    MAGMADNN_CHECK(e.dtype == "i8" && e.shape.size() == 2 && e.shape[1] == 2, op, ": ", path,
                   ": edges must be int64 of shape (E, 2), got ", e.dtype, " ", io::shape_str(e.shape));
    MAGMADNN_CHECK(c.dtype == "f8" && c.shape.size() == 1 && c.shape[0] == e.shape[0], op, ": ", path,
                   ": couplings must be float64 of shape (E,) = (", e.shape[0], ",), got ", c.dtype, " ",
                   io::shape_str(c.shape));
    try {
      g = from_edges(nodes, e.to_vector<int64_t>(), c.to_vector<double>());
    } catch (const Error& err) {
      MAGMADNN_ERROR(op, ": ", path, ": ", err.what());
    }
    if (square) {
      // Keep the lattice identity when the edges are exactly the square lattice's.
      const Graph sq = square_lattice(std::max<int64_t>(spins.shape[1], 2));
      if (spins.shape[1] >= 2 && sq.edges == g.edges) {
        g.kind = LatticeKind::Square;
        g.side = spins.shape[1];
      }
    }
  } else {
    MAGMADNN_CHECK(square, op, ": ", path, ": spins of shape ", io::shape_str(spins.shape),
                   " need 'edges.npy' and 'couplings.npy' (only (N, L, L) square lattices may omit them)");
    MAGMADNN_CHECK(spins.shape[1] >= 2, op, ": ", path, ": square lattices need L >= 2, got ",
                   io::shape_str(spins.shape));
    g = square_lattice(spins.shape[1]);
  }

  IsingDataset d;
  d.graph = std::move(g);
  d.sample_shape.assign(spins.shape.begin() + 1, spins.shape.end());
  d.spins = spins.to_vector<int8_t>();
  for (int64_t i = 0; i < n * nodes; ++i) {
    if (d.spins[i] != 1 && d.spins[i] != -1)
      MAGMADNN_ERROR(op, ": ", path, ": spins must be +1 or -1; configuration ", i / nodes, " node ", i % nodes,
                     " holds ", int(d.spins[i]));
  }
  d.energies = en.to_vector<double>();
  if (arrays.count("temperatures")) {
    const io::NpyArray& t = arrays["temperatures"];
    MAGMADNN_CHECK(t.dtype == "f8" && t.shape.size() == 1 && t.shape[0] == n, op, ": ", path,
                   ": temperatures must be float64 of shape (", n, ",), got ", t.dtype, " ", io::shape_str(t.shape));
    d.temperatures = t.to_vector<double>();
  }
  if (verify) {
    const std::vector<double> exact = energies(d.graph, d.spins.data(), n);
    for (int64_t i = 0; i < n; ++i)
      MAGMADNN_CHECK(std::abs(exact[i] - d.energies[i]) <= 1e-9 * std::max(1.0, std::abs(exact[i])), op, ": ",
                     path, ": stored energy of configuration ", i, " is ", d.energies[i],
                     ", the spins give ", exact[i]);
  }
  return d;
}

void save_ising_dataset(const std::string& path, const IsingDataset& d, bool compress) {
  const char* op = "save_ising_dataset";
  const int64_t n = d.size(), nodes = d.num_nodes();
  MAGMADNN_CHECK(static_cast<int64_t>(d.spins.size()) == n * nodes, op, ": ", path, ": ", d.spins.size(),
                 " spins for ", n, " configurations of ", nodes, " nodes");
  MAGMADNN_CHECK(d.temperatures.empty() || static_cast<int64_t>(d.temperatures.size()) == n, op, ": ", path, ": ",
                 d.temperatures.size(), " temperatures for ", n, " configurations");
  int64_t per = 1;
  for (int64_t s : d.sample_shape) per *= s;
  MAGMADNN_CHECK(per == nodes && !d.sample_shape.empty(), op, ": ", path, ": sample shape ", io::shape_str(d.sample_shape),
                 " does not hold ", nodes, " nodes");
  std::map<std::string, io::NpyArray> arrays;
  std::vector<int64_t> spin_shape{n};
  spin_shape.insert(spin_shape.end(), d.sample_shape.begin(), d.sample_shape.end());
  arrays["spins"] = io::NpyArray::from_vector(d.spins, spin_shape);
  arrays["energies"] = io::NpyArray::from_vector(d.energies, {n});
  const bool implicit = d.graph.is_default_square() && d.sample_shape.size() == 2;
  if (!implicit) {
    arrays["edges"] = io::NpyArray::from_vector(d.graph.edges, {d.graph.num_edges(), 2});
    arrays["couplings"] = io::NpyArray::from_vector(d.graph.couplings, {d.graph.num_edges()});
  }
  if (!d.temperatures.empty()) arrays["temperatures"] = io::NpyArray::from_vector(d.temperatures, {n});
  if (ends_with(path, ".npz")) {
    io::save_npz(path, arrays, compress);
    return;
  }
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  MAGMADNN_CHECK(!ec && std::filesystem::is_directory(path), op, ": ", path, ": cannot create the folder",
                 ec ? ": " + ec.message() : std::string());
  // Remove graph files a previous, different data set left behind (they would change the graph).
  if (implicit)
    for (const char* name : {"edges.npy", "couplings.npy"}) std::filesystem::remove(path + "/" + name, ec);
  if (d.temperatures.empty()) std::filesystem::remove(path + "/temperatures.npy", ec);
  for (const auto& [name, array] : arrays) io::save_npy(path + "/" + name + ".npy", array);
}

}  // namespace magmadnn::ising
