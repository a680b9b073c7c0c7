#include "model/weights_io.h"

#include "util/error.h"

namespace utt {
namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

}  // namespace

std::vector<safetensors::TensorToWrite> tensor_views(const ParameterLayout& layout,
                                                     const std::vector<float>& values,
                                                     const std::string& prefix) {
  UTT_CHECK(static_cast<int64_t>(values.size()) == layout.total(), "buffer does not match the layout");
  std::vector<safetensors::TensorToWrite> views;
  for (const ParameterTensor& t : layout.tensors()) {
    views.push_back({prefix + t.name, safetensors::Dtype::kF32, t.shape, values.data() + t.offset});
  }
  return views;
}

std::vector<float> read_layout_buffer(const ParameterLayout& layout, const safetensors::File& file,
                                      const std::string& what, const std::string& prefix) {
  std::vector<float> values(static_cast<size_t>(layout.total()));
  for (const ParameterTensor& t : layout.tensors()) {
    const std::string name = prefix + t.name;
    const safetensors::TensorInfo* info = file.find(name);
    if (info == nullptr) {
      throw UserError(what + " lack tensor '" + name +
                      "': the file was written for a different model configuration");
    }
    if (info->shape != t.shape) {
      throw UserError(what + ": tensor '" + name + "' has shape " + shape_text(info->shape) +
                      " but this model configuration needs " + shape_text(t.shape));
    }
    const std::vector<float> tensor = file.read_floats(name);
    std::copy(tensor.begin(), tensor.end(), values.begin() + t.offset);
  }
  for (const safetensors::TensorInfo& info : file.tensors()) {
    if (info.name.compare(0, prefix.size(), prefix) != 0) continue;  // another buffer's tensor
    if (layout.find(info.name.substr(prefix.size())) == nullptr) {
      throw UserError(what + " hold tensor '" + info.name +
                      "', which this model configuration does not have (tied embeddings, biases, "
                      "norm type or layer count differ)");
    }
  }
  return values;
}

std::vector<float> read_weights(const ParameterLayout& layout, const std::string& path) {
  const safetensors::File file = safetensors::File::read(path);
  return read_layout_buffer(layout, file, "model weights in " + path);
}

void load_weights(Transformer& model, const std::string& path) {
  model.set_parameters(read_weights(model.layout(), path));
}

void save_weights(const Transformer& model, const std::string& path,
                  std::map<std::string, std::string> metadata) {
  const std::vector<float> values = model.get_parameters();
  safetensors::write_file(path, tensor_views(model.layout(), values), std::move(metadata));
}

}  // namespace utt
